import Foundation
import Imaging

/// A DreamBench evaluation: per generated image DINO, CLIP-I and CLIP-T, aggregated per prompt,
/// per subject and overall (macro over subjects) with 95 % bootstrap intervals, and optionally
/// the real-image row (each subject's real images against each other, self-pairs excluded).
public struct DreamBenchEvaluation: Sendable {
    public enum Pairing: String, Sendable {
        /// Every generated image against every real image of its subject (DreamBooth).
        case allPairs = "all_pairs"
        /// Against one reference image per subject (Kosmos-G's list where it applies).
        case singleReference = "single_reference"
    }

    public struct ImageScore: Sendable {
        public var subject: String
        public var prompt: Int
        public var path: String
        public var dino: Double
        public var clipI: Double
        public var clipT: Double
    }

    /// A mean with its 95 % bootstrap interval.
    public struct Estimate: Sendable {
        public var mean: Double
        public var low: Double
        public var high: Double
        public var count: Int
    }

    public var pairing: Pairing
    public var scores: [ImageScore] = []
    /// Subject -> (DINO, CLIP-I) of the real images against each other.
    public var realRow: [String: (dino: Double, clipI: Double)] = [:]
    public var subjects: [DreamBenchSet.Subject] = []
    public var promptTexts: [String: [String]] = [:]
    public var models: [String: String] = [:]
    public var bootstrapSamples = 1000
    public var seed: UInt64 = 0

    /// The reference image Kosmos-G keeps per subject (dreambench.md §2.4), by file stem.
    public static let kosmosReferences: [String: String] = [
        "pink_sunglasses": "04", "can": "01", "candle": "02", "teapot": "04", "backpack": "02", "dog3": "05", "cat2": "02",
        "dog8": "04", "grey_sloth_plushie": "04", "backpack_dog": "02", "robot_toy": "00", "dog5": "00", "duck_toy": "01",
        "dog2": "02", "dog": "02", "colorful_sneaker": "01", "red_cartoon": "00", "clock": "03", "shiny_sneaker": "01",
        "dog6": "02", "berry_bowl": "02", "bear_plushie": "03", "poop_emoji": "00", "rc_car": "03", "dog7": "01", "cat": "04",
        "fancy_boot": "02", "wolf_plushie": "04", "monster_toy": "04", "vase": "02",
    ]

    /// Scores generated images (and with `realRow` the real images against each other).
    public static func run(set: DreamBenchSet, generated: [GeneratedImage], scorer: DreamBenchScorer, pairing: Pairing,
                          realRow: Bool) throws -> DreamBenchEvaluation {
        var result = DreamBenchEvaluation(pairing: pairing)
        result.subjects = set.subjects
        let single = generated.filter { $0.subjects.count == 1 }, multi = generated.filter { $0.subjects.count > 1 }
        let bySubject = Dictionary(grouping: single, by: \.subject)
        for name in Set(generated.flatMap(\.subjects)) where !set.subjects.contains(where: { $0.name == name }) {
            throw EvaluationError("generated images for unknown subject '\(name)'")
        }
        // Each subject's real-image features, computed once; the pairing picks the references.
        var realCache: [String: (dino: [[Float]], clip: [[Float]])] = [:]
        func realFeatures(_ subject: DreamBenchSet.Subject) throws -> (dino: [[Float]], clip: [[Float]]) {
            if let cached = realCache[subject.name] { return cached }
            let images = try DreamBenchScorer.decode(subject.realImages)
            let features = (try scorer.dinoFeatures(images), try scorer.clipImageFeatures(images))
            realCache[subject.name] = features
            return features
        }
        func referenceIndices(_ subject: DreamBenchSet.Subject) -> [Int] {
            guard pairing == .singleReference else { return Array(subject.realImages.indices) }
            let stem = kosmosReferences[subject.name]
            return [subject.realImages.firstIndex { (($0 as NSString).lastPathComponent as NSString).deletingPathExtension == stem } ?? 0]
        }
        /// Mean DINO and CLIP-I of one generated image's features against a subject's references.
        func similarity(_ dino: [Float], _ clip: [Float], to subject: DreamBenchSet.Subject) throws -> (dino: Double, clipI: Double) {
            let real = try realFeatures(subject), refs = referenceIndices(subject)
            let d = refs.map { DreamBenchScorer.cosine(dino, real.dino[$0]) }.reduce(0, +)
            let c = refs.map { DreamBenchScorer.cosine(clip, real.clip[$0]) }.reduce(0, +)
            return (d / Double(refs.count), c / Double(refs.count))
        }
        for subject in set.subjects where bySubject[subject.name] != nil || realRow {
            if realRow && subject.realImages.count >= 2 {
                let real = try realFeatures(subject)
                var d = 0.0, c = 0.0, n = 0.0
                for i in real.dino.indices { for j in real.dino.indices where i != j {
                    d += DreamBenchScorer.cosine(real.dino[i], real.dino[j]); c += DreamBenchScorer.cosine(real.clip[i], real.clip[j]); n += 1
                } }
                result.realRow[subject.name] = (d / n, c / n)
            }
            let texts = set.prompts(for: subject).indices.map { set.text(prompt: $0, for: subject) }
            result.promptTexts[subject.name] = texts
            guard let images = bySubject[subject.name] else { continue }
            for image in images where !(0..<texts.count).contains(image.prompt) {
                throw EvaluationError("prompt index \(image.prompt) is outside 0..<\(texts.count)", path: image.path)
            }
            let decoded = try DreamBenchScorer.decode(images.map(\.path))
            let dino = try scorer.dinoFeatures(decoded), clip = try scorer.clipImageFeatures(decoded)
            let text = try scorer.clipTextFeatures(texts)
            for (i, image) in images.enumerated() {
                let (d, c) = try similarity(dino[i], clip[i], to: subject)
                result.scores.append(ImageScore(subject: subject.name, prompt: image.prompt, path: image.path,
                                                dino: d, clipI: c, clipT: DreamBenchScorer.cosine(clip[i], text[image.prompt])))
            }
        }
        // Multi-subject images: each subject's score against its own references, averaged.
        if !multi.isEmpty {
            let decoded = try DreamBenchScorer.decode(multi.map(\.path))
            let dino = try scorer.dinoFeatures(decoded), clip = try scorer.clipImageFeatures(decoded)
            let text = try scorer.clipTextFeatures(multi.map { $0.text ?? "" })
            for (i, image) in multi.enumerated() {
                var d = 0.0, c = 0.0
                for name in image.subjects {
                    let one = try similarity(dino[i], clip[i], to: set.subjects.first { $0.name == name }!)
                    d += one.dino
                    c += one.clipI
                }
                let n = Double(image.subjects.count)
                result.scores.append(ImageScore(subject: image.subject, prompt: image.prompt, path: image.path,
                                                dino: d / n, clipI: c / n, clipT: DreamBenchScorer.cosine(clip[i], text[i])))
                if image.prompt >= 0 {
                    var texts = result.promptTexts[image.subject] ?? []
                    while texts.count <= image.prompt { texts.append("") }
                    texts[image.prompt] = image.text ?? ""
                    result.promptTexts[image.subject] = texts
                }
            }
        }
        return result
    }

    // MARK: aggregation

    /// SplitMix64, for reproducible bootstrap resamples.
    struct Generator {
        var state: UInt64
        mutating func next(_ bound: Int) -> Int {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Int((z ^ (z >> 31)) % UInt64(bound))
        }
    }

    /// Mean of `values` with a percentile bootstrap interval.
    func estimate(_ values: [Double], salt: UInt64) -> Estimate {
        guard !values.isEmpty else { return Estimate(mean: .nan, low: .nan, high: .nan, count: 0) }
        let mean = values.reduce(0, +) / Double(values.count)
        guard values.count > 1 else { return Estimate(mean: mean, low: mean, high: mean, count: 1) }
        var g = Generator(state: seed ^ salt)
        var means: [Double] = []
        for _ in 0..<bootstrapSamples {
            var s = 0.0
            for _ in values.indices { s += values[g.next(values.count)] }
            means.append(s / Double(values.count))
        }
        means.sort()
        let lo = means[Int(Double(means.count - 1) * 0.025)], hi = means[Int((Double(means.count - 1) * 0.975).rounded(.up))]
        return Estimate(mean: mean, low: lo, high: hi, count: values.count)
    }

    public enum Metric: String, CaseIterable, Sendable {
        case dino = "DINO", clipI = "CLIP-I", clipT = "CLIP-T"
        func value(_ s: ImageScore) -> Double { self == .dino ? s.dino : self == .clipI ? s.clipI : s.clipT }
    }

    /// Per subject: each metric's mean over its generated images.
    public func perSubject() -> [(subject: String, count: Int, values: [Metric: Estimate])] {
        let grouped = Dictionary(grouping: scores, by: \.subject)
        var names = subjects.map(\.name).filter { grouped[$0] != nil }
        for s in scores where !names.contains(s.subject) { names.append(s.subject) }
        return names.compactMap { name in
            guard let images = grouped[name] else { return nil }
            var values: [Metric: Estimate] = [:]
            for (k, m) in Metric.allCases.enumerated() {
                values[m] = estimate(images.map(m.value), salt: UInt64(k + 1) ^ Self.hash(name))
            }
            return (name, images.count, values)
        }
    }

    /// Overall: the mean over subjects of each subject's mean (macro), bootstrapped over subjects.
    public func overall() -> [Metric: Estimate] {
        let subjects = perSubject()
        var out: [Metric: Estimate] = [:]
        for (k, m) in Metric.allCases.enumerated() {
            out[m] = estimate(subjects.map { $0.values[m]!.mean }, salt: UInt64(101 + k))
        }
        return out
    }

    /// Per (subject, prompt) means.
    public func perPrompt() -> [(subject: String, prompt: Int, text: String, count: Int, values: [Metric: Double])] {
        let grouped = Dictionary(grouping: scores) { "\($0.subject)\u{0}\($0.prompt)" }
        return grouped.values.map { images in
            var values: [Metric: Double] = [:]
            for m in Metric.allCases { values[m] = images.map(m.value).reduce(0, +) / Double(images.count) }
            let s = images[0]
            return (s.subject, s.prompt, promptTexts[s.subject]?[s.prompt] ?? "", images.count, values)
        }.sorted { ($0.subject, $0.prompt) < ($1.subject, $1.prompt) }
    }

    /// The real-image row: the mean over subjects (with at least two images) of DINO and CLIP-I.
    public func realRowMeans() -> (dino: Double, clipI: Double, subjects: Int)? {
        guard !realRow.isEmpty else { return nil }
        let v = Array(realRow.values)
        return (v.map(\.dino).reduce(0, +) / Double(v.count), v.map(\.clipI).reduce(0, +) / Double(v.count), v.count)
    }

    static func hash(_ s: String) -> UInt64 {
        s.utf8.reduce(UInt64(1469598103934665603)) { ($0 ^ UInt64($1)) &* 1099511628211 }
    }
}
