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
        var best: [String: (score: Int, tag: String)] = [:]
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
            }
        }
        return best.mapValues(\.tag)
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
        return tagger
    }

    /// Learns a tagger: lexicon from all of `sentences`; rules by transformation-based learning
    /// over the sentences and their lower-cased copies, starting from jackknifed initial tags (each
    /// half tagged with the other half's lexicon, so unknown words are represented).
    /// - Parameters:
    ///   - maxRules: stop after this many rules.
    ///   - minGain: stop when the best rule fixes fewer net errors than this.
    ///   - wordnet: WordNet's tag per word (``wordNetTags(directory:)``) for unknown words; the
    ///     tagger keeps the entries for words the treebank lacks.
    public static func train(sentences: [TaggedSentence], maxRules: Int = 400, minGain: Int = 3,
                             wordnet: [String: String] = [:], log: (String) -> Void = { _ in }) -> POSTagger {
        var tagger = lexicon(from: sentences)
        tagger.wordnet = wordnet.filter { w, _ in tagger.lower[w] == nil && tagger.cased[w] == nil }
        let halves = [stride(from: 0, to: sentences.count, by: 2).map { sentences[$0] },
                      stride(from: 1, to: sentences.count, by: 2).map { sentences[$0] }]
        var partial = [lexicon(from: halves[1]), lexicon(from: halves[0])]
        partial[0].wordnet = wordnet
        partial[1].wordnet = wordnet
        var corpusWords: [[String]] = [], corpusGold: [[String]] = [], corpusTags: [[String]] = []
        for (h, half) in halves.enumerated() {
            for s in half {
                for lowered in [false, true] {
                    let words = s.map { lowered ? $0.word.lowercased() : $0.word }
                    let lw = words.map { $0.lowercased() }
                    corpusWords.append(lw)
                    corpusGold.append(s.map(\.tag))
                    corpusTags.append(words.indices.map {
                        partial[h].initialTag(words[$0], lowered: lw[$0], sentenceStart: $0 == 0, caseless: lw == words)
                    })
                }
            }
        }
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
        // Flat corpus with sentence boundaries padded by two <s>/</s> on each side.
        var words: [Int32] = [], gold: [Int32] = [], tags: [Int32] = [], suffixes: [Int32] = []
        for s in corpusWords.indices {
            words += [0, 0]; gold += [0, 0]; tags += [0, 0]; suffixes += [0, 0]
            words += corpusWords[s].map(wid); gold += corpusGold[s].map(tid); tags += corpusTags[s].map(tid)
            suffixes += corpusWords[s].map { wid(Template.suffix($0)) }
            words += [1, 1]; gold += [1, 1]; tags += [1, 1]; suffixes += [1, 1]
        }
        let n = tags.count
        struct Key: Hashable { var template: UInt8; var from: Int32; var to: Int32; var a: Int32; var b: Int32 }
        let templates = Template.allCases
        func instances(_ t: Template, _ i: Int) -> [(Int32, Int32)] {
            switch t {
            case .prevTag: return [(tags[i - 1], -1)]
            case .nextTag: return [(tags[i + 1], -1)]
            case .prev2Tag: return [(tags[i - 2], -1)]
            case .next2Tag: return [(tags[i + 2], -1)]
            case .prevNextTag: return [(tags[i - 1], tags[i + 1])]
            case .prevTwoTags: return [(tags[i - 1], tags[i - 2])]
            case .nextTwoTags: return [(tags[i + 1], tags[i + 2])]
            case .prevOrPrev2Tag:
                let (p1, p2): (Int32, Int32) = (tags[i - 1], tags[i - 2])
                if p1 == p2 { return [(p1, -1)] }
                return [(p1, -1), (p2, -1)]
            case .nextOrNext2Tag:
                let (n1, n2): (Int32, Int32) = (tags[i + 1], tags[i + 2])
                if n1 == n2 { return [(n1, -1)] }
                return [(n1, -1), (n2, -1)]
            case .prevWord: return [(words[i - 1], -1)]
            case .nextWord: return [(words[i + 1], -1)]
            case .wordPrevTag: return [(words[i], tags[i - 1])]
            case .wordNextTag: return [(words[i], tags[i + 1])]
            case .word: return [(words[i], -1)]
            case .prevWordTag: return [(words[i - 1], tags[i - 1])]
            case .suffixPrevTag: return [(suffixes[i], tags[i - 1])]
            case .suffixNextTag: return [(suffixes[i], tags[i + 1])]
            case .prevTagNextWord: return [(words[i + 1], tags[i - 1])]
            }
        }
        func matches(_ k: Key, _ i: Int) -> Bool {
            switch templates[Int(k.template)] {
            case .prevTag: return tags[i - 1] == k.a
            case .nextTag: return tags[i + 1] == k.a
            case .prev2Tag: return tags[i - 2] == k.a
            case .next2Tag: return tags[i + 2] == k.a
            case .prevNextTag: return tags[i - 1] == k.a && tags[i + 1] == k.b
            case .prevTwoTags: return tags[i - 1] == k.a && tags[i - 2] == k.b
            case .nextTwoTags: return tags[i + 1] == k.a && tags[i + 2] == k.b
            case .prevOrPrev2Tag: return tags[i - 1] == k.a || tags[i - 2] == k.a
            case .nextOrNext2Tag: return tags[i + 1] == k.a || tags[i + 2] == k.a
            case .prevWord: return words[i - 1] == k.a
            case .nextWord: return words[i + 1] == k.a
            case .wordPrevTag: return words[i] == k.a && tags[i - 1] == k.b
            case .wordNextTag: return words[i] == k.a && tags[i + 1] == k.b
            case .word: return words[i] == k.a
            case .prevWordTag: return words[i - 1] == k.a && tags[i - 1] == k.b
            case .suffixPrevTag: return suffixes[i] == k.a && tags[i - 1] == k.b
            case .suffixNextTag: return suffixes[i] == k.a && tags[i + 1] == k.b
            case .prevTagNextWord: return words[i + 1] == k.a && tags[i - 1] == k.b
            }
        }
        func isTagTemplate(_ t: Template) -> Bool {
            switch t {
            case .prevWord, .nextWord, .wordPrevTag, .wordNextTag, .word, .prevWordTag, .suffixPrevTag, .suffixNextTag,
                 .prevTagNextWord: return false
            default: return true
            }
        }
        for round in 0..<maxRules {
            var good: [Key: Int] = [:]
            var byTag: [Int32: [Int]] = [:]
            for i in 0..<n where tags[i] > 1 {
                if tags[i] != gold[i] {
                    for (t, template) in templates.enumerated() {
                        for (a, b) in instances(template, i) {
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
                for i in byTag[key.from] ?? [] where matches(key, i) {
                    bad += 1
                    if let best, fixes - bad <= best.score { break }
                }
                if fixes - bad > (best?.score ?? minGain - 1) { best = (key, fixes - bad) }
            }
            guard let chosen = best else { break }
            let template = templates[Int(chosen.key.template)]
            let tagTemplate = isTagTemplate(template)
            func name(_ id: Int32, tag: Bool) -> String { id < 0 ? "" : tag ? tagNames[Int(id)] : wordNames[Int(id)] }
            let aIsTag = tagTemplate, bIsTag = true
            let rule = Rule(from: tagNames[Int(chosen.key.from)], to: tagNames[Int(chosen.key.to)], template: template,
                            a: name(chosen.key.a, tag: aIsTag), b: name(chosen.key.b, tag: bIsTag))
            tagger.rules.append(rule)
            var changes: [Int] = []
            for i in 0..<n where tags[i] == chosen.key.from && matches(chosen.key, i) { changes.append(i) }
            for i in changes { tags[i] = chosen.key.to }
            if round % 25 == 0 { log("rule \(round): \(rule) net \(chosen.score)") }
        }
        tagger.compile()
        return tagger
    }

    /// The text form: `cased|lower|suffix <TAB> key <TAB> tag` and
    /// `rule <TAB> from <TAB> to <TAB> template <TAB> a <TAB> b`.
    public func serialized() -> String {
        var lines: [String] = ["# Rule-based UPOS tagger derived from UD English-EWT train (CC BY-SA 4.0) and WordNet 3.0 (WordNet licence); see NOTICE.md"]
        func clean(_ s: String) -> Bool { !s.contains("\t") && !s.contains("\n") }
        for (w, t) in cased.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("cased\t\(w)\t\(t)") }
        for (w, t) in lower.sorted(by: { $0.key < $1.key }) where clean(w) && cased[w] != t { lines.append("lower\t\(w)\t\(t)") }
        for (w, t) in suffixes.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("suffix\t\(w)\t\(t)") }
        for (w, t) in wordnet.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("wordnet\t\(w)\t\(t)") }
        for r in rules { lines.append("rule\t\(r.from)\t\(r.to)\t\(r.template.rawValue)\t\(r.a)\t\(r.b)") }
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
            case "wordnet" where f.count == 3: wordnet[f[1]] = f[2]
            case "rule" where f.count == 6:
                guard let template = Template(rawValue: f[3]) else { throw TextError.badTokenizerFiles("unknown rule template \(f[3])") }
                rules.append(Rule(from: f[1], to: f[2], template: template, a: f[4], b: f[5]))
            default: throw TextError.badTokenizerFiles("bad tagger line: \(line.prefix(80))")
            }
        }
        // Lower-case entries equal to the cased entry of the same string were omitted when written.
        for (w, t) in caseOnly where w == w.lowercased() && lower[w] == nil { lower[w] = t }
        compile()
    }
}
