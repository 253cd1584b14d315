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

    /// Builds lexicons and suffix guesses from `sentences`.
    static func lexicon(from sentences: [TaggedSentence]) -> POSTagger {
        var cased: [String: [String: Int]] = [:], lower: [String: [String: Int]] = [:], suffix: [String: [String: Int]] = [:]
        for s in sentences {
            for (w, t) in s {
                cased[w, default: [:]][t, default: 0] += 1
                let l = w.lowercased()
                lower[l, default: [:]][t, default: 0] += 1
                let chars = Array(l)
                for k in 1...5 where chars.count > k { suffix[String(chars[(chars.count - k)...]), default: [:]][t, default: 0] += 1 }
            }
        }
        func best(_ counts: [String: Int]) -> String { counts.max { $0.value != $1.value ? $0.value < $1.value : $0.key > $1.key }!.key }
        var tagger = POSTagger()
        tagger.cased = cased.mapValues(best)
        tagger.lower = lower.mapValues(best)
        tagger.suffixes = suffix.filter { $0.value.values.reduce(0, +) >= 5 }.mapValues(best)
        return tagger
    }

    /// Learns a tagger: lexicon from all of `sentences`; rules by transformation-based learning
    /// over the sentences and their lower-cased copies, starting from jackknifed initial tags (each
    /// half tagged with the other half's lexicon, so unknown words are represented).
    /// - Parameters:
    ///   - maxRules: stop after this many rules.
    ///   - minGain: stop when the best rule fixes fewer net errors than this.
    public static func train(sentences: [TaggedSentence], maxRules: Int = 400, minGain: Int = 3,
                             log: (String) -> Void = { _ in }) -> POSTagger {
        var tagger = lexicon(from: sentences)
        let halves = [stride(from: 0, to: sentences.count, by: 2).map { sentences[$0] },
                      stride(from: 1, to: sentences.count, by: 2).map { sentences[$0] }]
        let partial = [lexicon(from: halves[1]), lexicon(from: halves[0])]
        var corpusWords: [[String]] = [], corpusGold: [[String]] = [], corpusTags: [[String]] = []
        for (h, half) in halves.enumerated() {
            for s in half {
                for lowered in [false, true] {
                    let words = s.map { lowered ? $0.word.lowercased() : $0.word }
                    let lw = words.map { $0.lowercased() }
                    corpusWords.append(lw)
                    corpusGold.append(s.map(\.tag))
                    corpusTags.append(words.indices.map { partial[h].initialTag(words[$0], lowered: lw[$0], sentenceStart: $0 == 0) })
                }
            }
        }
        for round in 0..<maxRules {
            // Count, for every error, the rules that would fix it.
            var good: [Rule: Int] = [:]
            for (s, tags) in corpusTags.enumerated() {
                let gold = corpusGold[s], words = corpusWords[s]
                for i in tags.indices where tags[i] != gold[i] {
                    for template in Template.allCases {
                        for (a, b) in template.instances(i, tags: tags, words: words) {
                            good[Rule(from: tags[i], to: gold[i], template: template, a: a, b: b), default: 0] += 1
                        }
                    }
                }
            }
            let candidates = good.filter { $0.value >= minGain }.sorted { $0.value != $1.value ? $0.value > $1.value : "\($0.key)" < "\($1.key)" }
            var best: (rule: Rule, score: Int)?
            for (rule, fixes) in candidates {
                if let best, fixes <= best.score { break }
                var bad = 0
                for (s, tags) in corpusTags.enumerated() {
                    let gold = corpusGold[s], words = corpusWords[s]
                    for i in tags.indices where tags[i] == rule.from && gold[i] == rule.from
                        && rule.template.matches(i, tags: tags, words: words, a: rule.a, b: rule.b) {
                        bad += 1
                    }
                    if let best, fixes - bad <= best.score { break }
                }
                if fixes - bad > (best?.score ?? minGain - 1) { best = (rule, fixes - bad) }
            }
            guard let chosen = best else { break }
            tagger.rules.append(chosen.rule)
            for s in corpusTags.indices { tagger.apply(chosen.rule, tags: &corpusTags[s], words: corpusWords[s]) }
            if round % 25 == 0 { log("rule \(round): \(chosen.rule) net \(chosen.score)") }
        }
        return tagger
    }

    /// The text form: `cased|lower|suffix <TAB> key <TAB> tag` and
    /// `rule <TAB> from <TAB> to <TAB> template <TAB> a <TAB> b`.
    public func serialized() -> String {
        var lines: [String] = ["# Rule-based UPOS tagger derived from UD English-EWT train (CC BY-SA 4.0); see NOTICE.md"]
        func clean(_ s: String) -> Bool { !s.contains("\t") && !s.contains("\n") }
        for (w, t) in cased.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("cased\t\(w)\t\(t)") }
        for (w, t) in lower.sorted(by: { $0.key < $1.key }) where clean(w) && cased[w] != t { lines.append("lower\t\(w)\t\(t)") }
        for (w, t) in suffixes.sorted(by: { $0.key < $1.key }) where clean(w) { lines.append("suffix\t\(w)\t\(t)") }
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
            case "rule" where f.count == 6:
                guard let template = Template(rawValue: f[3]) else { throw TextError.badTokenizerFiles("unknown rule template \(f[3])") }
                rules.append(Rule(from: f[1], to: f[2], template: template, a: f[4], b: f[5]))
            default: throw TextError.badTokenizerFiles("bad tagger line: \(line.prefix(80))")
            }
        }
        // Lower-case entries equal to the cased entry of the same string were omitted when written.
        for (w, t) in caseOnly where w == w.lowercased() && lower[w] == nil { lower[w] = t }
    }
}
