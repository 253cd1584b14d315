import Foundation

/// The DreamBench data as google/dreambooth publishes it: `prompts_and_classes.txt` (the subject
/// → class table and the 25 object and 25 live-subject prompt templates) and each subject's real
/// images in `<subject>/NN.jpg` (also found under `dataset/`, or flat as `images/<subject>.jpg`).
public struct DreamBenchSet: Sendable {
    public struct Subject: Sendable, Equatable {
        public var name: String
        /// The class noun ("dog", "stuffed animal").
        public var className: String
        /// Live subjects (cats and dogs) take the live prompt list.
        public var isLive: Bool
        /// Paths of the real images, sorted.
        public var realImages: [String]
    }

    public var subjects: [Subject]
    public var objectPrompts: [String]
    public var livePrompts: [String]

    /// The prompt templates of a subject (with `{0}` the unique token and `{1}` the class).
    public func prompts(for subject: Subject) -> [String] { subject.isLive ? livePrompts : objectPrompts }

    /// A prompt's text for CLIP-T: the class noun in the slot and no unique token (dreambench.md
    /// §2.5), or with `uniqueToken` the generation prompt ("a sks dog in the jungle").
    public func text(prompt index: Int, for subject: Subject, uniqueToken: String? = nil) -> String {
        let template = prompts(for: subject)[index]
        let slot = uniqueToken.map { "\($0) \(subject.className)" } ?? subject.className
        return template.replacingOccurrences(of: "{0} {1}", with: slot)
            .replacingOccurrences(of: "{1}", with: subject.className).replacingOccurrences(of: "{0} ", with: "")
    }

    /// Loads a DreamBench folder.
    /// - Throws: ``EvaluationError`` when the prompt file or a subject's images are missing.
    public static func load(directory: String) throws -> DreamBenchSet {
        let fm = FileManager.default
        let root = fm.fileExists(atPath: directory + "/dataset/prompts_and_classes.txt") ? directory + "/dataset" : directory
        let promptFile = root + "/prompts_and_classes.txt"
        guard let text = try? String(contentsOfFile: promptFile, encoding: .utf8) else {
            throw EvaluationError("no prompts_and_classes.txt", path: promptFile)
        }
        var classes: [(String, String)] = []
        var objectPrompts: [String] = [], livePrompts: [String] = []
        var section = ""
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line == "Object Prompts" { section = "object"; continue }
            if line == "Live Subject Prompts" { section = "live"; continue }
            if line.hasPrefix("'"), let end = line.range(of: "'.format") {
                let template = String(line[line.index(after: line.startIndex)..<end.lowerBound])
                if section == "live" { livePrompts.append(template) } else { objectPrompts.append(template) }
                continue
            }
            let fields = line.split(separator: ",", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if section.isEmpty, fields.count == 2, fields[0] != "subject_name", !fields[0].isEmpty {
                classes.append((fields[0], fields[1]))
            }
        }
        guard !classes.isEmpty, !objectPrompts.isEmpty, !livePrompts.isEmpty else {
            throw EvaluationError("no subject table or prompt lists", path: promptFile)
        }
        let imageTypes: Set<String> = ["jpg", "jpeg", "png"]
        let subjects = try classes.map { name, className -> Subject in
            var images: [String] = []
            let folder = root + "/" + name
            if let files = try? fm.contentsOfDirectory(atPath: folder) {
                images = files.filter { imageTypes.contains(($0 as NSString).pathExtension.lowercased()) }.sorted().map { folder + "/" + $0 }
            } else if let files = try? fm.contentsOfDirectory(atPath: root + "/images") {
                images = files.filter { ($0 as NSString).deletingPathExtension == name && imageTypes.contains(($0 as NSString).pathExtension.lowercased()) }
                    .sorted().map { root + "/images/" + $0 }
            }
            guard !images.isEmpty else { throw EvaluationError("subject '\(name)' has no real images", path: folder) }
            return Subject(name: name, className: className, isLive: ["cat", "dog"].contains(className), realImages: images)
        }
        return DreamBenchSet(subjects: subjects, objectPrompts: objectPrompts, livePrompts: livePrompts)
    }
}

/// The Evaluation module's error: a message and the file concerned.
public struct EvaluationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var path: String?
    public init(_ message: String, path: String? = nil) {
        self.message = message
        self.path = path
    }
    public var description: String { (path.map { "\($0): " } ?? "") + message }
}

/// Generated images to score: `<dir>/<subject>/<prompt index>/<k>.png` (or .jpg), or a JSONL list
/// of `{"subject": …, "prompt": <index>, "image": <path>}` (paths relative to the list).
///
/// Multi-subject (Multibench-style) lines name `"subjects": [..]` and the prompt `"text"`; their
/// DINO and CLIP-I average each subject's score against its own real images.
public struct GeneratedImage: Sendable, Equatable {
    public var subject: String
    public var prompt: Int
    public var path: String
    /// Every subject in the image (one, or several for multi-subject prompts).
    public var subjects: [String] = []
    /// The prompt text for CLIP-T where the line gives it (multi-subject prompts).
    public var text: String?

    public init(subject: String, prompt: Int, path: String, subjects: [String]? = nil, text: String? = nil) {
        self.subject = subject
        self.prompt = prompt
        self.path = path
        self.subjects = subjects ?? [subject]
        self.text = text
    }

    public static func discover(_ location: String) throws -> [GeneratedImage] {
        let fm = FileManager.default
        var out: [GeneratedImage] = []
        if location.hasSuffix(".jsonl") {
            guard let text = try? String(contentsOfFile: location, encoding: .utf8) else { throw EvaluationError("cannot read", path: location) }
            let base = (location as NSString).deletingLastPathComponent
            for (n, line) in text.split(separator: "\n").enumerated() where !line.trimmingCharacters(in: .whitespaces).isEmpty {
                guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                      let image = object["image"] as? String else {
                    throw EvaluationError("line \(n + 1) is not a JSON object with an image", path: location)
                }
                let path = image.hasPrefix("/") ? image : base + "/" + image
                if let subjects = object["subjects"] as? [String], subjects.count > 1 {
                    guard let text = object["text"] as? String else {
                        throw EvaluationError("line \(n + 1): a multi-subject image needs its prompt text", path: location)
                    }
                    out.append(GeneratedImage(subject: subjects.joined(separator: "+"), prompt: object["prompt"] as? Int ?? -1, path: path,
                                              subjects: subjects, text: text))
                } else if let subject = object["subject"] as? String ?? (object["subjects"] as? [String])?.first,
                          let prompt = object["prompt"] as? Int {
                    out.append(GeneratedImage(subject: subject, prompt: prompt, path: path, text: object["text"] as? String))
                } else {
                    throw EvaluationError("line \(n + 1) needs subject and prompt (index), or subjects and text", path: location)
                }
            }
            return out
        }
        guard let subjects = try? fm.contentsOfDirectory(atPath: location) else { throw EvaluationError("cannot list", path: location) }
        for subject in subjects.sorted() {
            guard let prompts = try? fm.contentsOfDirectory(atPath: location + "/" + subject) else { continue }
            for prompt in prompts.sorted() {
                guard let index = Int(prompt), let files = try? fm.contentsOfDirectory(atPath: "\(location)/\(subject)/\(prompt)") else { continue }
                for file in files.sorted() where ["png", "jpg", "jpeg"].contains((file as NSString).pathExtension.lowercased()) {
                    out.append(GeneratedImage(subject: subject, prompt: index, path: "\(location)/\(subject)/\(prompt)/\(file)"))
                }
            }
        }
        return out
    }
}
