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
        // Integer encoding of words and tags for speed; templates work on ids.
        var wordIDs: [String: Int32] = ["<s>": 0, "</s>": 1]
        var tagIDs: [String: Int32] = ["<s>": 0, "</s>": 1]
        var tagNames = ["<s>", "</s>"], wordNames = ["<s>", "</s>"]
        func wid(_ w: String) -> Int32 {
            if let id = wordIDs[w] { return id }
            let id = Int32(wordNames.count); wordIDs[w] = id; wordNames.append(w); return id
        }
        func tid(_ t: String) -> Int32 {
            if let id = tagIDs[t] { return id }
            let id = Int32(tagNames.count); tagIDs[t] = id; tagNames.append(t); return id
        }
        // Flat corpus with sentence boundaries padded by RuleEngine.pad <s> / </s> on each side.
        let pad = RuleEngine.pad
        var words: [Int32] = [], gold: [Int32] = [], tags: [Int32] = [], suffixes: [Int32] = [], allowed: [UInt64] = []
        let before = [Int32](repeating: 0, count: pad), after = [Int32](repeating: 1, count: pad)
        let free = [UInt64](repeating: ~0, count: pad)
        for s in corpus.words.indices {
            allowed += free
            allowed += corpus.allowed[s].map { set in set.map { $0.sorted().reduce(0) { $0 | 1 << UInt64(tid($1)) } } ?? ~0 }
            allowed += free
            words += before; gold += before; tags += before; suffixes += before
            words += corpus.words[s].map(wid); gold += corpus.gold[s].map(tid); tags += corpus.initial[s].map(tid)
            suffixes += corpus.words[s].map { wid(Template.suffix($0)) }
            words += after; gold += after; tags += after; suffixes += after
        }
        let n = tags.count
        struct Key: Hashable { var template: UInt8; var from: Int32; var to: Int32; var a: Int32; var b: Int32 }
        let templates = Template.allCases
        func instances(_ t: Template, _ i: Int, into out: inout [(Int32, Int32)]) {
            out.removeAll(keepingCapacity: true)
            func one(_ a: Int32, _ b: Int32 = -1) { if !out.contains(where: { $0 == (a, b) }) { out.append((a, b)) } }
            switch t {
            case .prevTag: one(tags[i - 1])
            case .nextTag: one(tags[i + 1])
            case .prev2Tag: one(tags[i - 2])
            case .next2Tag: one(tags[i + 2])
            case .prevNextTag: one(tags[i - 1], tags[i + 1])
            case .prevTwoTags: one(tags[i - 1], tags[i - 2])
            case .nextTwoTags: one(tags[i + 1], tags[i + 2])
            case .prevOrPrev2Tag: one(tags[i - 1]); one(tags[i - 2])
            case .nextOrNext2Tag: one(tags[i + 1]); one(tags[i + 2])
            case .prev3Tag: one(tags[i - 1]); one(tags[i - 2]); one(tags[i - 3])
            case .next3Tag: one(tags[i + 1]); one(tags[i + 2]); one(tags[i + 3])
            case .prevWord: one(words[i - 1])
            case .nextWord: one(words[i + 1])
            case .prev2Word: one(words[i - 2])
            case .next2Word: one(words[i + 2])
            case .wordPrevTag: one(words[i], tags[i - 1])
            case .wordNextTag: one(words[i], tags[i + 1])
            case .word: one(words[i])
            case .prevWordTag: one(words[i - 1], tags[i - 1])
            case .nextWordTag: one(words[i + 1], tags[i + 1])
            case .suffixPrevTag: one(suffixes[i], tags[i - 1])
            case .suffixNextTag: one(suffixes[i], tags[i + 1])
            case .prevTagNextWord: one(words[i + 1], tags[i - 1])
            case .wordPrevWord: one(words[i], words[i - 1])
            case .wordNextWord: one(words[i], words[i + 1])
            }
        }
        func matches(_ k: Key, _ i: Int) -> Bool {
            let template = templates[Int(k.template)]
            let (ka, kb) = template.operands
            return template.holds(i, a: ka == .tag ? (k.a, nil) : (nil, k.a), b: kb == .tag ? (k.b, nil) : (nil, k.b),
                                  tag: { tags[$0] }, word: { words[$0] }, suffix: { suffixes[$0] })
        }
        var rules: [Rule] = []
        var scratch: [(Int32, Int32)] = []
        for round in 0..<maxRules {
            var good: [Key: Int] = [:]
            var byTag: [Int32: [Int]] = [:]
            for i in 0..<n where tags[i] > 1 {
                if tags[i] != gold[i] {
                    guard allowed[i] & (1 << UInt64(gold[i])) != 0 else { continue }
                    for (t, template) in templates.enumerated() {
                        instances(template, i, into: &scratch)
                        for (a, b) in scratch {
                            good[Key(template: UInt8(t), from: tags[i], to: gold[i], a: a, b: b), default: 0] += 1
                        }
                    }
                } else {
                    byTag[tags[i], default: []].append(i)
                }
            }
            func before(_ x: (key: Key, value: Int), _ y: (key: Key, value: Int)) -> Bool {
                if x.value != y.value { return x.value > y.value }
                if x.key.template != y.key.template { return x.key.template < y.key.template }
                if x.key.from != y.key.from { return x.key.from < y.key.from }
                if x.key.to != y.key.to { return x.key.to < y.key.to }
                if x.key.a != y.key.a { return x.key.a < y.key.a }
                return x.key.b < y.key.b
            }
            let candidates = good.filter { $0.value >= minGain }.map { (key: $0.key, value: $0.value) }.sorted(by: before)
            var best: (key: Key, score: Int)?
            for (key, fixes) in candidates {
                if let best, fixes <= best.score { break }
                var bad = 0
                let to: UInt64 = 1 << UInt64(key.to)
                for i in byTag[key.from] ?? [] where allowed[i] & to != 0 && matches(key, i) {
                    bad += 1
                    if let best, fixes - bad <= best.score { break }
                }
                if fixes - bad > (best?.score ?? minGain - 1) { best = (key, fixes - bad) }
            }
            guard let chosen = best else { break }
            let template = templates[Int(chosen.key.template)]
            func name(_ id: Int32, _ kind: Operand) -> String {
                switch kind {
                case .none: return ""
                case .tag: return tagNames[Int(id)]
                case .word, .suffix: return wordNames[Int(id)]
                }
            }
            let (ka, kb) = template.operands
            let rule = Rule(from: tagNames[Int(chosen.key.from)], to: tagNames[Int(chosen.key.to)], template: template,
                            a: name(chosen.key.a, ka), b: name(chosen.key.b, kb))
            rules.append(rule)
            var changes: [Int] = []
            let to: UInt64 = 1 << UInt64(chosen.key.to)
            for i in 0..<n where tags[i] == chosen.key.from && allowed[i] & to != 0 && matches(chosen.key, i) { changes.append(i) }
            for i in changes { tags[i] = chosen.key.to }
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
