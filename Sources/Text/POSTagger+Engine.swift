/// The contextual rules compiled for speed: tags and the words and suffixes rules mention become
/// small integers; a rule is tried only when its `from` tag occurs in the sentence and the word
/// or suffix it names occurs (rules are indexed by word); its matches are collected, then
/// applied, exactly as ``POSTagger/apply(_:tags:words:)`` does.
final class RuleEngine: Sendable {
    let tagNames: [String]
    let tagIndex: [String: UInt8]
    let wordIndex: [String: Int32]
    let suffixIndex: [String: Int32]
    let rules: [Compiled]
    /// Every lexicon string (as written) with its tags and the ids of its lower-case form.
    let lexicon: [String: Entry]

    struct Entry: Sendable {
        /// Tag of the string as written (`cased`), or `none`.
        var cased: UInt8
        /// Tag of the string as a lower-case form (`lower`), or `none`.
        var lower: UInt8
        var word: Int32
        var suffix: Int32
    }

    static let none: UInt8 = 255
    /// Rules that name no word or suffix, by index.
    let tagRules: [Int32]
    /// Rule indices by the word id (or suffix id) they name.
    let rulesByWord: [[Int32]]
    let rulesBySuffix: [[Int32]]

    struct Compiled: Sendable {
        var from: UInt8
        var to: UInt8
        var template: POSTagger.Template
        var a: Int32
        var b: Int32
        /// The word id the rule needs present in the sentence, or -1.
        var word: Int32
    }

    init(rules: [POSTagger.Rule], extraTags: Set<String>, cased: [String: String], lower: [String: String]) {
        var tagNames = ["<s>", "</s>"]
        var tagIndex: [String: UInt8] = ["<s>": 0, "</s>": 1]
        var wordIndex: [String: Int32] = ["<s>": 0, "</s>": 1]
        var suffixIndex: [String: Int32] = [:]
        func tid(_ t: String) -> UInt8 {
            if let id = tagIndex[t] { return id }
            tagIndex[t] = UInt8(tagNames.count)
            tagNames.append(t)
            return UInt8(tagNames.count - 1)
        }
        func wid(_ w: String) -> Int32 {
            if let id = wordIndex[w] { return id }
            let id = Int32(wordIndex.count)
            wordIndex[w] = id
            return id
        }
        func sid(_ s: String) -> Int32 {
            if let id = suffixIndex[s] { return id }
            let id = Int32(suffixIndex.count)
            suffixIndex[s] = id
            return id
        }
        for t in extraTags.sorted() { _ = tid(t) }
        var compiled: [Compiled] = []
        for r in rules {
            var c = Compiled(from: tid(r.from), to: tid(r.to), template: r.template, a: -1, b: -1, word: -1)
            switch r.template {
            case .prevTag, .nextTag, .prev2Tag, .next2Tag, .prevOrPrev2Tag, .nextOrNext2Tag:
                c.a = Int32(tid(r.a))
            case .prevNextTag, .prevTwoTags, .nextTwoTags:
                c.a = Int32(tid(r.a)); c.b = Int32(tid(r.b))
            case .prevWord, .nextWord, .word:
                c.a = wid(r.a); c.word = c.a
            case .wordPrevTag, .wordNextTag, .prevWordTag, .prevTagNextWord:
                c.a = wid(r.a); c.b = Int32(tid(r.b)); c.word = c.a
            case .suffixPrevTag, .suffixNextTag:
                c.a = sid(r.a); c.b = Int32(tid(r.b))
            }
            compiled.append(c)
        }
        precondition(tagNames.count <= 64, "more than 64 tags")
        self.tagNames = tagNames
        self.tagIndex = tagIndex
        self.wordIndex = wordIndex
        self.suffixIndex = suffixIndex
        self.rules = compiled
        var tagRules: [Int32] = []
        var byWord = [[Int32]](repeating: [], count: wordIndex.count)
        var bySuffix = [[Int32]](repeating: [], count: suffixIndex.count)
        for (k, r) in compiled.enumerated() {
            switch r.template {
            case .suffixPrevTag, .suffixNextTag: bySuffix[Int(r.a)].append(Int32(k))
            default: if r.word >= 0 { byWord[Int(r.word)].append(Int32(k)) } else { tagRules.append(Int32(k)) }
            }
        }
        self.tagRules = tagRules
        rulesByWord = byWord
        rulesBySuffix = bySuffix
        var lexicon: [String: Entry] = [:]
        lexicon.reserveCapacity(cased.count + lower.count)
        for key in Set(cased.keys).union(lower.keys) {
            let l = key.lowercased()
            lexicon[key] = Entry(cased: cased[key].flatMap { tagIndex[$0] } ?? Self.none,
                                 lower: lower[key].flatMap { tagIndex[$0] } ?? Self.none,
                                 word: wordIndex[l] ?? -1, suffix: suffixIndex[POSTagger.Template.suffix(l)] ?? -1)
        }
        self.lexicon = lexicon
    }

    /// Applies every rule in order. `tags` and `words` are padded with two sentinels on each side
    /// (tags `<s>` = 0 before and `</s>` = 1 after; word ids likewise); `suffixes` align with
    /// them (-1 where no rule names the suffix).
    func run(tags: inout [UInt8], words: [Int32], suffixes: [Int32]) {
        let end = tags.count - 2
        guard end > 2 else { return }
        // The rules that can fire here, in order: those naming no word, plus those naming a word
        // or suffix of this sentence (or a sentence boundary), as a bit set over rule indices.
        let blocks = (rules.count + 63) / 64
        var candidates = [UInt64](repeating: 0, count: blocks)
        func add(_ list: [Int32]) { for k in list { candidates[Int(k) >> 6] |= 1 << UInt64(k & 63) } }
        add(tagRules)
        add(rulesByWord[0]); add(rulesByWord[1])
        for i in 2..<end where words[i] >= 0 { add(rulesByWord[Int(words[i])]) }
        if !rulesBySuffix.isEmpty { for i in 2..<end where suffixes[i] >= 0 { add(rulesBySuffix[Int(suffixes[i])]) } }
        var present: UInt64 = 0
        for i in 2..<end { present |= 1 << UInt64(tags[i]) }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: end) { changes in
            tags.withUnsafeMutableBufferPointer { t in
                words.withUnsafeBufferPointer { w in
                    suffixes.withUnsafeBufferPointer { s in
                        for block in 0..<blocks {
                          var bits = candidates[block]
                          while bits != 0 {
                            let k = block << 6 + bits.trailingZeroBitCount
                            bits &= bits - 1
                            let r = rules[k]
                            guard present & (1 << UInt64(r.from)) != 0 else { continue }
                            let a = r.a, b = r.b, from = r.from
                            var count = 0
                            @inline(__always) func scan(_ hit: (Int) -> Bool) {
                                for i in 2..<end where t[i] == from && hit(i) { changes[count] = i; count += 1 }
                            }
                            switch r.template {
                            case .prevTag: scan { Int32(t[$0 - 1]) == a }
                            case .nextTag: scan { Int32(t[$0 + 1]) == a }
                            case .prev2Tag: scan { Int32(t[$0 - 2]) == a }
                            case .next2Tag: scan { Int32(t[$0 + 2]) == a }
                            case .prevNextTag: scan { Int32(t[$0 - 1]) == a && Int32(t[$0 + 1]) == b }
                            case .prevTwoTags: scan { Int32(t[$0 - 1]) == a && Int32(t[$0 - 2]) == b }
                            case .nextTwoTags: scan { Int32(t[$0 + 1]) == a && Int32(t[$0 + 2]) == b }
                            case .prevOrPrev2Tag: scan { Int32(t[$0 - 1]) == a || Int32(t[$0 - 2]) == a }
                            case .nextOrNext2Tag: scan { Int32(t[$0 + 1]) == a || Int32(t[$0 + 2]) == a }
                            case .prevWord: scan { w[$0 - 1] == a }
                            case .nextWord: scan { w[$0 + 1] == a }
                            case .wordPrevTag: scan { w[$0] == a && Int32(t[$0 - 1]) == b }
                            case .wordNextTag: scan { w[$0] == a && Int32(t[$0 + 1]) == b }
                            case .word: scan { w[$0] == a }
                            case .prevWordTag: scan { w[$0 - 1] == a && Int32(t[$0 - 1]) == b }
                            case .suffixPrevTag: scan { s[$0] == a && Int32(t[$0 - 1]) == b }
                            case .suffixNextTag: scan { s[$0] == a && Int32(t[$0 + 1]) == b }
                            case .prevTagNextWord: scan { w[$0 + 1] == a && Int32(t[$0 - 1]) == b }
                            }
                            guard count > 0 else { continue }
                            for j in 0..<count { t[changes[j]] = r.to }
                            present = 0
                            for i in 2..<end { present |= 1 << UInt64(t[i]) }
                          }
                        }
                    }
                }
            }
        }
    }
}
