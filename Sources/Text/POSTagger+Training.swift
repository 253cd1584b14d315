import Foundation

/// Deriving the tagger's lexicon and rules from a treebank, and its text format.
extension POSTagger {
    /// A tagged sentence: (word, UPOS) pairs.
    public typealias TaggedSentence = [(word: String, tag: String)]

    /// Reads the word forms and UPOS tags of a CoNLL-U file (multi-word tokens and empty nodes
    /// skipped).
    public static func readCoNLLU(_ text: String) -> [TaggedSentence] {
        var sentences: [TaggedSentence] = []
        var current: TaggedSentence = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                if !current.isEmpty { sentences.append(current); current = [] }
                continue
            }
            if line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count >= 4, !fields[0].contains("-"), !fields[0].contains(".") else { continue }
            current.append((String(fields[1]), String(fields[3])))
        }
        if !current.isEmpty { sentences.append(current) }
        return sentences
    }

    /// WordNet's most frequent part of speech for each single-word, alphabetic lemma in the
    /// `index.noun|verb|adj|adv` files of a WordNet 3 database (Debian's wordnet-base:
    /// /usr/share/wordnet): the one with the most sense-tagged uses, then the most senses.
    public static func wordNetTags(directory: String) throws -> [String: String] {
        try wordNet(directory: directory).mapValues(\.best)
    }

    /// Each such lemma's most frequent part of speech and every part of speech WordNet gives it.
    public static func wordNet(directory: String) throws -> [String: (best: String, all: Set<String>)] {
        var best: [String: (score: Int, tag: String)] = [:]
        var all: [String: Set<String>] = [:]
        for (file, tag) in [("noun", "NOUN"), ("verb", "VERB"), ("adj", "ADJ"), ("adv", "ADV")] {
            let path = directory + "/index." + file
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw TextError.badTokenizerFiles("cannot read \(path)")
            }
            for line in text.split(separator: "\n") where !line.hasPrefix(" ") {
                let f = line.split(separator: " ")
                guard f.count > 4, let senses = Int(f[2]), let pointers = Int(f[3]), f.count > 5 + pointers,
                      let tagged = Int(f[5 + pointers]) else { continue }
                let lemma = String(f[0])
                guard lemma.count >= 2, lemma.allSatisfy({ $0.isLetter && $0.isLowercase }) else { continue }
                let score = tagged * 1000 + senses
                if best[lemma].map({ score > $0.score }) ?? true { best[lemma] = (score, tag) }
                all[lemma, default: []].insert(tag)
            }
        }
        return best.mapValues { $0 }.reduce(into: [:]) { out, entry in out[entry.key] = (entry.value.tag, all[entry.key] ?? []) }
    }

    /// Builds lexicons and suffix guesses from `sentences`.
    static func lexicon(from sentences: [TaggedSentence]) -> POSTagger {
        var cased: [String: [String: Int]] = [:], lower: [String: [String: Int]] = [:], suffix: [String: [String: Int]] = [:]
        for s in sentences {
            for (w, t) in s {
                cased[w, default: [:]][t, default: 0] += 1
                lower[w.lowercased(), default: [:]][t, default: 0] += 1
            }
        }
        // Unknown words behave like rare words of open classes: suffix guesses come from words
        // seen at most 10 times, tagged NOUN, VERB, ADJ, ADV, PROPN or NUM.
        let open: Set<String> = ["NOUN", "VERB", "ADJ", "ADV", "PROPN", "NUM"]
        for (l, counts) in lower where counts.values.reduce(0, +) <= 10 {
            let chars = Array(l)
            for (t, c) in counts where open.contains(t) {
                for k in 1...5 where chars.count > k { suffix[String(chars[(chars.count - k)...]), default: [:]][t, default: 0] += c }
            }
        }
        func best(_ counts: [String: Int]) -> String { counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key }
        var tagger = POSTagger()
        tagger.cased = cased.mapValues(best)
        tagger.lower = lower.mapValues(best)
        tagger.suffixes = suffix.filter { $0.value.values.reduce(0, +) >= 3 }.mapValues(best)
        tagger.ambiguous = lower.filter { $0.value.count > 1 }.mapValues { Set($0.keys) }
        return tagger
    }

    /// Learns a tagger: lexicon from all of `sentences`; two rule sets by transformation-based
    /// learning, one over the sentences as written (those with capitals) and one over their
    /// lower-cased copies (for caseless input), each starting from jackknifed initial tags (each
    /// half tagged with the other half's lexicon, so unknown words are represented). The two sets
    /// are learned in parallel.
    /// - Parameters:
    ///   - maxRules: stop each set after this many rules.
    ///   - minGain: stop when the best rule fixes fewer net errors than this.
    ///   - wordnet: WordNet's tag per word (``wordNetTags(directory:)``) for unknown words; the
    ///     tagger keeps the entries for words the treebank lacks.
    ///   - wordnetParts: every part of speech WordNet gives a word (``wordNet(directory:)``):
    ///     what a constrained tagger's rules may give a word only WordNet knows.
    ///   - constrained: rules change a known word only to a tag the treebank gives it.
    ///   - widen: with `constrained`, a known word may also take the parts of speech WordNet gives
    ///     it (a word the treebank saw only as a noun may still be a verb), kept as its tag set.
    public static func train(sentences: [TaggedSentence], maxRules: Int = 400, minGain: Int = 3, widen: Bool = true,
                             wordnet: [String: String] = [:], wordnetParts: [String: Set<String>] = [:],
                             constrained: Bool = true,
                             log: @Sendable (String) -> Void = { _ in }) -> POSTagger {
        var tagger = lexicon(from: sentences)
        tagger.constrained = constrained
        tagger.wordnet = wordnet.filter { w, _ in tagger.lower[w] == nil && tagger.cased[w] == nil }
        tagger.wordnetParts = wordnetParts.filter { w, parts in tagger.wordnet[w] != nil && parts.count > 1 }
        let halves = [stride(from: 0, to: sentences.count, by: 2).map { sentences[$0] },
                      stride(from: 1, to: sentences.count, by: 2).map { sentences[$0] }]
        var partial = [lexicon(from: halves[1]), lexicon(from: halves[0])]
        if widen {
            // Known words may also take the parts of speech WordNet gives them.
            func widened(_ t: POSTagger) -> [String: Set<String>] {
                var out = t.ambiguous
                for (w, tag) in t.lower {
                    guard let parts = wordnetParts[w] else { continue }
                    let tags = (t.ambiguous[w] ?? [tag]).union(parts)
                    if tags.count > 1 { out[w] = tags }
                }
                return out
            }
            tagger.ambiguous = widened(tagger)
            for h in 0..<2 { partial[h].ambiguous = widened(partial[h]) }
        }
        for h in 0..<2 {
            // The halves are not compiled, so they make no spelling guesses: there a word one half
            // lacks is mostly a correctly spelt rare word next to a relative in the other (rated /
            // rates), not a typo, and the guesses lowered the halves' unknown-word noun F1 (0.884 ->
            // 0.881 lower-cased) while raising dev's (0.894 -> 0.897).
            partial[h].wordnet = wordnet
            partial[h].wordnetParts = wordnetParts.filter { $0.value.count > 1 }
            partial[h].constrained = constrained
        }
        var corpora = [Corpus(), Corpus()]
        for (h, half) in halves.enumerated() {
            for s in half {
                for lowered in [false, true] {
                    let words = s.map { lowered ? $0.word.lowercased() : $0.word }
                    let lw = words.map { $0.lowercased() }
                    let caseless = lw == words
                    if !lowered && caseless { continue }
                    let initial = words.indices.map {
                        partial[h].initialTag(words[$0], lowered: lw[$0], sentenceStart: $0 == 0, caseless: caseless)
                    }
                    corpora[lowered ? 1 : 0].append(words: lw, gold: s.map(\.tag), initial: initial, allowed: lw.map(partial[h].allowed))
                }
            }
        }
        let learned = Locked([[Rule]](repeating: [], count: 2))
        let sets = corpora
        DispatchQueue.concurrentPerform(iterations: 2) { k in
            let rules = learnRules(sets[k], maxRules: maxRules, minGain: minGain) { log((k == 0 ? "cased " : "caseless ") + $0) }
            learned.withLock { $0[k] = rules }
        }
        tagger.rules = learned.withLock { $0[0] }
        tagger.caselessRules = learned.withLock { $0[1] }
        tagger.compile()
        return tagger
    }

    /// Training sentences: lower-cased words, gold tags and initial tags.
    struct Corpus: Sendable {
        var words: [[String]] = []
        var gold: [[String]] = []
        var initial: [[String]] = []
        /// The tags rules may give each word (nil: any).
        var allowed: [[Set<String>?]] = []
        mutating func append(words: [String], gold: [String], initial: [String], allowed: [Set<String>?]) {
            self.words.append(words); self.gold.append(gold); self.initial.append(initial); self.allowed.append(allowed)
        }
    }

    /// A value behind a lock, for the parallel training.
    final class Locked<Value>: @unchecked Sendable {
        private var value: Value
        private let lock = NSLock()
        init(_ value: Value) { self.value = value }
        func withLock<R>(_ body: (inout Value) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&value) }
    }

    /// Transformation-based learning: repeatedly the rule (template instance) with the largest
    /// net gain over `corpus`, applied before the next is chosen.
    static func learnRules(_ corpus: Corpus, maxRules: Int, minGain: Int, log: (String) -> Void) -> [Rule] {
        var learner = RuleLearner(corpus)
        var rules: [Rule] = []
        for round in 0..<maxRules {
            guard let chosen = learner.bestRule(minGain: minGain) else { break }
            let rule = learner.rule(chosen.key)
            rules.append(rule)
            learner.apply(chosen.key)
            if round % 25 == 0 { log("rule \(round): \(rule) net \(chosen.score)") }
        }
        return rules
    }

    /// The text form: `cased|lower|suffix|wordnet <TAB> key <TAB> tag` (wordnet lines may add
    /// `<TAB> every,part,of,speech`), `tags <TAB> word <TAB> every,tag`, `option <TAB> constrained` and
    /// `rule|caseless-rule <TAB> from <TAB> to <TAB> template <TAB> a <TAB> b`.
    public func serialized() -> String {
        var lines: [String] = ["# Rule-based UPOS tagger derived from UD English-EWT train (CC BY-SA 4.0) and WordNet 3.0 (WordNet licence); see NOTICE.md"]
        func clean(_ s: String) -> Bool { !s.contains("\t") && !s.contains("\n") }
        for (w, t) in cased.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("cased\t\(w)\t\(t)") }
        for (w, t) in lower.sorted(by: { $0.key < $1.key }) where clean(w) && cased[w] != t { lines.append("lower\t\(w)\t\(t)") }
        for (w, t) in suffixes.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("suffix\t\(w)\t\(t)") }
        for (w, t) in wordnet.sorted(by: { $0.key < $1.key }) where clean(w) {
            lines.append("wordnet\t\(w)\t\(t)" + (wordnetParts[w].map { "\t" + $0.sorted().joined(separator: ",") } ?? ""))
        }
        if constrained { lines.append("option\tconstrained") }
        for (w, t) in ambiguous.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("tags\t\(w)\t\(t.sorted().joined(separator: ","))") }
        for r in rules { lines.append("rule\t\(r.from)\t\(r.to)\t\(r.template.rawValue)\t\(r.a)\t\(r.b)") }
        for r in caselessRules { lines.append("caseless-rule\t\(r.from)\t\(r.to)\t\(r.template.rawValue)\t\(r.a)\t\(r.b)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses ``serialized()``.
    public init(serialized text: String) throws {
        var caseOnly: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            switch f.first {
            case "cased" where f.count == 3: cased[f[1]] = f[2]; caseOnly[f[1]] = f[2]
            case "lower" where f.count == 3: lower[f[1]] = f[2]
            case "suffix" where f.count == 3: suffixes[f[1]] = f[2]
            case "wordnet" where f.count == 3 || f.count == 4:
                wordnet[f[1]] = f[2]
                if f.count == 4 { wordnetParts[f[1]] = Set(f[3].split(separator: ",").map(String.init)) }
            case "tags" where f.count == 3: ambiguous[f[1]] = Set(f[2].split(separator: ",").map(String.init))
            case "option" where f.count == 2 && f[1] == "constrained": constrained = true
            case "rule" where f.count == 6, "caseless-rule" where f.count == 6:
                guard let template = Template(rawValue: f[3]) else { throw TextError.badTokenizerFiles("unknown rule template \(f[3])") }
                let rule = Rule(from: f[1], to: f[2], template: template, a: f[4], b: f[5])
                if f[0] == "rule" { rules.append(rule) } else { caselessRules.append(rule) }
            default: throw TextError.badTokenizerFiles("bad tagger line: \(line.prefix(80))")
            }
        }
        // Lower-case entries equal to the cased entry of the same string were omitted when written.
        for (w, t) in caseOnly where w == w.lowercased() && lower[w] == nil { lower[w] = t }
        compile()
    }
}
