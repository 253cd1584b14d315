import Foundation

extension POSTagger {
    /// The training corpus encoded for transformation-based learning: words, tags and suffixes as
    /// integer ids in one flat array, each sentence padded by ``RuleEngine/pad`` `<s>` / `</s>`
    /// on each side, with the current tags that learned rules rewrite.
    struct RuleLearner {
        /// A rule as ids: template index, from and to tags, operands.
        struct Key: Hashable { var template: UInt8; var from: Int32; var to: Int32; var a: Int32; var b: Int32 }

        var wordIDs: [String: Int32] = ["<s>": 0, "</s>": 1]
        var tagIDs: [String: Int32] = ["<s>": 0, "</s>": 1]
        var tagNames = ["<s>", "</s>"], wordNames = ["<s>", "</s>"]
        var words: [Int32] = [], gold: [Int32] = [], tags: [Int32] = [], suffixes: [Int32] = []
        /// The tags each position may take (bit per tag id), ~0 where free.
        var allowed: [UInt64] = []
        let templates = Template.allCases
        private var scratch: [(Int32, Int32)] = []

        init(_ corpus: Corpus) {
            let pad = RuleEngine.pad
            let before = [Int32](repeating: 0, count: pad), after = [Int32](repeating: 1, count: pad)
            let free = [UInt64](repeating: ~0, count: pad)
            for s in corpus.words.indices {
                allowed += free
                allowed += corpus.allowed[s].map { set in set.map { $0.sorted().reduce(0) { $0 | 1 << UInt64(tid($1)) } } ?? ~0 }
                allowed += free
                words += before; gold += before; tags += before; suffixes += before
                words += corpus.words[s].map { wid($0) }
                gold += corpus.gold[s].map { tid($0) }
                tags += corpus.initial[s].map { tid($0) }
                suffixes += corpus.words[s].map { wid(Template.suffix($0)) }
                words += after; gold += after; tags += after; suffixes += after
            }
        }

        mutating func wid(_ w: String) -> Int32 {
            if let id = wordIDs[w] { return id }
            let id = Int32(wordNames.count); wordIDs[w] = id; wordNames.append(w); return id
        }

        mutating func tid(_ t: String) -> Int32 {
            if let id = tagIDs[t] { return id }
            let id = Int32(tagNames.count); tagIDs[t] = id; tagNames.append(t); return id
        }

        /// The operand pairs of `template` at position `i` (distinct, in template order).
        func instances(_ template: Template, _ i: Int, into out: inout [(Int32, Int32)]) {
            out.removeAll(keepingCapacity: true)
            func one(_ a: Int32, _ b: Int32 = -1) { if !out.contains(where: { $0 == (a, b) }) { out.append((a, b)) } }
            let (tags, words, suffixes) = (self.tags, self.words, self.suffixes)
            switch template {
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

        /// Every rule that fixes a wrong tag, with how many it fixes, and the positions whose tag
        /// is right, by tag (where a rule could break one).
        mutating func fixes() -> (good: [Key: Int], byTag: [Int32: [Int]]) {
            var good: [Key: Int] = [:]
            var byTag: [Int32: [Int]] = [:]
            var scratch = self.scratch
            for i in 0..<tags.count where tags[i] > 1 {
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
            self.scratch = scratch
            return (good, byTag)
        }

        /// The rule with the largest net gain (fixes minus breaks) of at least `minGain`; ties go
        /// to the smaller key, so training is deterministic.
        mutating func bestRule(minGain: Int) -> (key: Key, score: Int)? {
            let (good, byTag) = fixes()
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
            return best
        }

        /// The rule `key` names, in words and tags.
        func rule(_ key: Key) -> Rule {
            let template = templates[Int(key.template)]
            func name(_ id: Int32, _ kind: Operand) -> String {
                switch kind {
                case .none: return ""
                case .tag: return tagNames[Int(id)]
                case .word, .suffix: return wordNames[Int(id)]
                }
            }
            let (ka, kb) = template.operands
            return Rule(from: tagNames[Int(key.from)], to: tagNames[Int(key.to)], template: template,
                        a: name(key.a, ka), b: name(key.b, kb))
        }

        /// Applies `key` to the current tags: matches collected first, then rewritten.
        mutating func apply(_ key: Key) {
            var changes: [Int] = []
            let to: UInt64 = 1 << UInt64(key.to)
            for i in 0..<tags.count where tags[i] == key.from && allowed[i] & to != 0 && matches(key, i) { changes.append(i) }
            for i in changes { tags[i] = key.to }
        }
    }
}
