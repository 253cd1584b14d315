import Foundation

/// The contextual rules compiled for speed: tags and the words and suffixes rules mention become
/// small integers; a rule is tried only when its `from` tag occurs in the sentence and the word
/// or suffix it names occurs (rules are indexed by word). Sentences of up to ``maxBitWords``
/// words are tagged bit-parallel: each tag and word is a 64-bit mask of the positions holding it,
/// so a rule's matches are a few shifts and ANDs of masks; longer sentences are scanned position
/// by position. Either way a rule's matches are collected, then applied, exactly as
/// ``POSTagger/apply(_:tags:words:)`` does.
final class RuleEngine: Sendable {
    /// Sentinel positions on each side of a sentence (`<s>` before, `</s>` after).
    static let pad = 3
    /// The longest sentence tagged with position masks (padding included, 64 positions).
    static let maxBitWords = 64 - 2 * pad

    let tagNames: [String]
    let tagIndex: [String: UInt8]
    let wordIndex: [String: Int32]
    let suffixIndex: [String: Int32]
    /// ``POSTagger/Form/allowed`` of each form as tag bits (by raw value).
    let formAllowed: [UInt64]
    /// One compiled rule list per rule set (cased, caseless).
    let sets: [RuleSet]
    /// Every lexicon string (as written) with its tags and the ids of its lower-case form.
    let lexicon: ByteTable

    struct Entry: Sendable {
        /// Tag of the string as written (`cased`), or `none`.
        var cased: UInt8
        /// Tag of the string as a lower-case form (`lower`), or `none`.
        var lower: UInt8
        var word: Int32
        var suffix: Int32
        /// The tags rules may give the word (bit per tag id), all for any.
        var allowed: UInt64
    }

    static let none: UInt8 = 255

    struct Compiled: Sendable {
        var from: UInt8
        var to: UInt8
        var template: POSTagger.Template
        /// Tag, word or suffix ids, as the template's operands say; -1 where unused.
        var a: Int32
        var b: Int32
        /// The tags (bit per id) that must be present for the rule to fire: `from` and the tags
        /// it names.
        var need: UInt64 = 0
    }

    /// A rule in the branch-free form the bit-parallel loop evaluates: its matches are
    /// `(A<<la1>>ra1 | A<<la2>>ra2 | A<<la3>>ra3) & (B<<lb>>rb)` over the position masks `A` and `B`
    /// at `slotA` and `slotB` of the sentence's mask table (tags, then the all-ones mask, then
    /// words, then suffixes). Every template is one instance of this form (a single shift is
    /// repeated; a rule with one operand takes the all-ones mask as `B`).
    struct Masked: Sendable {
        var from: UInt8
        var to: UInt8
        var la1: UInt8 = 0, ra1: UInt8 = 0, la2: UInt8 = 0, ra2: UInt8 = 0, la3: UInt8 = 0, ra3: UInt8 = 0, lb: UInt8 = 0, rb: UInt8 = 0
        var slotA: Int32
        /// The slot of `B`, or for a rule naming a second word (which the sentence may lack, so
        /// its mask may be unset) `-1 - wordID`: that word's positions are scanned for.
        var slotB: Int32
    }

    /// Mask-table slots: 64 tags, then 64 allowed-tag masks, the all-ones mask, words, suffixes.
    static let onesSlot = 128
    static let wordBase = 129

    /// One compiled rule list with its indexes (a class: tagging a sentence takes one reference).
    final class RuleSet: Sendable {
        let rules: [Compiled]
        let masked: [Masked]
        /// Rules that name no word or suffix, as a bit set over rule indices.
        let tagRules: [UInt64]
        /// Rule indices by the word id (or suffix id) their `a` names, flattened: the rules of
        /// word `w` are `wordRules[wordStart[w]..<wordStart[w + 1]]`.
        let wordStart: [Int32], wordRules: [Int32]
        let suffixStart: [Int32], suffixRules: [Int32]
        /// Per block of 64 rules and per tag, the rules of the block that need that tag present
        /// (their `from` tag and every tag they name) (`[block · 64 + tag]`).
        let byNeed: [UInt64]
        /// The tags some rule needs.
        let needed: UInt64

        init(rules: [Compiled], words: Int, suffixes: Int) {
            self.rules = rules
            masked = rules.map { RuleEngine.masked($0, words: words) }
            var tagRules = [UInt64](repeating: 0, count: (rules.count + 63) / 64)
            var byWord = [[Int32]](repeating: [], count: words), bySuffix = [[Int32]](repeating: [], count: suffixes)
            var byNeed = [UInt64](repeating: 0, count: (rules.count + 63) / 64 * 64)
            var needed: UInt64 = 0
            for (k, r) in rules.enumerated() {
                var need = r.need
                needed |= need
                while need != 0 { byNeed[(k >> 6) << 6 + need.trailingZeroBitCount] |= 1 << UInt64(k & 63); need &= need - 1 }
                switch r.template.operands.a {
                case .suffix: bySuffix[Int(r.a)].append(Int32(k))
                case .word: byWord[Int(r.a)].append(Int32(k))
                default: tagRules[k >> 6] |= 1 << UInt64(k & 63)
                }
            }
            func flatten(_ lists: [[Int32]]) -> ([Int32], [Int32]) {
                var start: [Int32] = [0]
                for l in lists { start.append(start.last! + Int32(l.count)) }
                return (start, lists.flatMap { $0 })
            }
            self.tagRules = tagRules
            (wordStart, wordRules) = flatten(byWord)
            (suffixStart, suffixRules) = flatten(bySuffix)
            self.byNeed = byNeed
            self.needed = needed
        }
    }

    init(ruleSets: [[POSTagger.Rule]], extraTags: Set<String>, cased: [String: String], lower: [String: String],
         allowed: (String) -> Set<String>?) {
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
        func operand(_ kind: POSTagger.Operand, _ value: String) -> Int32 {
            switch kind {
            case .none: return -1
            case .tag: return Int32(tid(value))
            case .word: return wid(value)
            case .suffix: return sid(value)
            }
        }
        for t in extraTags.union(lower.keys.compactMap(allowed).flatMap { $0 }).sorted() { _ = tid(t) }
        let compiledSets = ruleSets.map { rules in
            rules.map { r in
                let (ka, kb) = r.template.operands
                var c = Compiled(from: tid(r.from), to: tid(r.to), template: r.template, a: operand(ka, r.a), b: operand(kb, r.b))
                c.need = 1 << UInt64(c.from)
                if ka == .tag { c.need |= 1 << UInt64(c.a) }
                if kb == .tag { c.need |= 1 << UInt64(c.b) }
                return c
            }
        }
        precondition(tagNames.count <= 64, "more than 64 tags")
        self.tagNames = tagNames
        self.tagIndex = tagIndex
        self.wordIndex = wordIndex
        self.suffixIndex = suffixIndex
        formAllowed = POSTagger.Form.allCases.map { Self.bits($0.allowed, tagIndex) }
        sets = compiledSets.map { compiled in
            RuleSet(rules: compiled, words: wordIndex.count, suffixes: suffixIndex.count)
        }
        lexicon = ByteTable(Set(cased.keys).union(lower.keys).sorted().map { key in
            let l = key.lowercased()
            return (key, Entry(cased: cased[key].flatMap { tagIndex[$0] } ?? Self.none,
                               lower: lower[key].flatMap { tagIndex[$0] } ?? Self.none,
                               word: wordIndex[l] ?? -1, suffix: suffixIndex[POSTagger.Template.suffix(l)] ?? -1,
                               allowed: allowed(l).map { Self.bits($0, tagIndex) } ?? ~0))
        })
    }

    /// A tag set as bits of tag ids (tags the engine lacks are left out).
    func bits(_ tags: Set<String>) -> UInt64 { Self.bits(tags, tagIndex) }

    /// A tag set as bits of the ids in `tagIndex` (tags it lacks are left out).
    static func bits(_ tags: Set<String>, _ tagIndex: [String: UInt8]) -> UInt64 {
        tags.reduce(0) { $0 | (tagIndex[$1].map { 1 << UInt64($0) } ?? 0) }
    }

    /// The lexicon entries of `word` as written and of its lower-case form, and whether the
    /// lower-case form differs (the word has capitals). ASCII words are looked up by their bytes
    /// with no string made.
    @inline(__always)
    func lookup(_ word: String) -> (exact: Entry?, lower: Entry?, differs: Bool) {
        let fast = word.utf8.withContiguousStorageIfAvailable { bytes -> (Entry?, Entry?, Bool)? in
            var upper = false
            for b in bytes {
                if b >= 0x80 { return nil }
                if b &- 0x41 < 26 { upper = true }
            }
            let exact = lexicon.find(bytes)
            guard upper else { return (exact, exact, false) }
            return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: bytes.count) { buffer in
                for i in 0..<bytes.count { let b = bytes[i]; buffer[i] = b &- 0x41 < 26 ? b | 0x20 : b }
                return (exact, lexicon.find(UnsafeBufferPointer(buffer)), true)
            }
        }
        if let fast, let fast { return fast }
        let lowered = word.lowercased()
        let exact = lexicon.find(word)
        return (exact, lowered == word ? exact : lexicon.find(lowered), lowered != word)
    }

    /// Applies every rule of set `set` in order. `tags` and `words` are padded with ``pad``
    /// sentinels on each side (tags `<s>` = 0 before and `</s>` = 1 after; word ids likewise);
    /// `suffixes` align with them (-1 where no rule names the suffix); `allowed`, the tags a rule
    /// may give each position (bit per tag id).
    func run(set: Int, tags: UnsafeMutableBufferPointer<UInt8>, words: UnsafeBufferPointer<Int32>, suffixes: UnsafeBufferPointer<Int32>,
             allowed: UnsafeBufferPointer<UInt64>) {
        let pad = Self.pad, end = tags.count - pad
        guard end > pad else { return }
        let rs = sets[set]
        // The rules that can fire here, in order: those naming no word, plus those naming a word
        // or suffix of this sentence (or a sentence boundary), as a bit set over rule indices.
        let blocks = (rs.rules.count + 63) / 64
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: max(1, blocks)) { candidates in
            candidates.initialize(repeating: 0)
            for b in 0..<blocks { candidates[b] = rs.tagRules[b] }
            rs.wordStart.withUnsafeBufferPointer { wordStart in
                rs.wordRules.withUnsafeBufferPointer { wordRules in
                    func add(_ w: Int) {
                        for j in Int(wordStart[w])..<Int(wordStart[w + 1]) {
                            let k = wordRules[j]
                            candidates[Int(k) >> 6] |= 1 << UInt64(k & 63)
                        }
                    }
                    add(0); add(1)
                    for i in pad..<end where words[i] >= 0 { add(Int(words[i])) }
                }
            }
            rs.suffixStart.withUnsafeBufferPointer { suffixStart in
                rs.suffixRules.withUnsafeBufferPointer { suffixRules in
                    for i in pad..<end where suffixes[i] >= 0 {
                        let id = Int(suffixes[i])
                        for j in Int(suffixStart[id])..<Int(suffixStart[id + 1]) {
                            let k = suffixRules[j]
                            candidates[Int(k) >> 6] |= 1 << UInt64(k & 63)
                        }
                    }
                }
            }
            if tags.count <= 64 {
                runMasks(rs, candidates: candidates, tags: tags, words: words, suffixes: suffixes, allowed: allowed)
            } else {
                runScan(rs, candidates: candidates, tags: tags, words: words, suffixes: suffixes, allowed: allowed)
            }
        }
    }

    /// Bit-parallel rule application for sentences that fit 64 positions.
    private func runMasks(_ rs: RuleSet, candidates: UnsafeMutableBufferPointer<UInt64>, tags t: UnsafeMutableBufferPointer<UInt8>,
                          words w: UnsafeBufferPointer<Int32>, suffixes s: UnsafeBufferPointer<Int32>,
                          allowed: UnsafeBufferPointer<UInt64>) {
        let pad = Self.pad, end = t.count - pad
        let valid: UInt64 = (end - pad == 64 ? ~0 : (1 << UInt64(end - pad)) - 1) << UInt64(pad)
        // Position masks of each tag, and of each word and suffix of the sentence that rules
        // name (the only ones a candidate rule's `a` can name); a rule's second word may be
        // absent, so it is scanned for.
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: Self.wordBase + wordIndex.count + suffixIndex.count) { scratch in
            let table = scratch.baseAddress!
            let m = table, am = table + 64
            let wm = table + Self.wordBase, sm = table + Self.wordBase + wordIndex.count
            m.initialize(repeating: 0, count: 128)
            table[Self.onesSlot] = ~0
            // Positions each tag may be given (am), and positions any tag may be given (free).
            var free: UInt64 = 0
            for i in pad..<end {
                var bits = allowed[i]
                if bits == ~0 { free |= 1 << UInt64(i); continue }
                while bits != 0 { am[bits.trailingZeroBitCount] |= 1 << UInt64(i); bits &= bits - 1 }
            }
            // Position masks of each tag, and of each word and suffix of the sentence that rules
            // name (the only ones a candidate rule's A can name).
            for i in 0..<t.count { m[Int(t[i])] |= 1 << UInt64(i) }
            for i in 0..<t.count where w[i] >= 0 { wm[Int(w[i])] = 0 }
            for i in 0..<t.count where w[i] >= 0 { wm[Int(w[i])] |= 1 << UInt64(i) }
            for i in pad..<end where s[i] >= 0 { sm[Int(s[i])] = 0 }
            for i in pad..<end where s[i] >= 0 { sm[Int(s[i])] |= 1 << UInt64(i) }
            // The tags present; a block's rules are tried only where every tag they need is.
            var present: UInt64 = 0b11 // <s> and </s> pad every sentence
            for tag in 2..<64 where m[tag] & valid != 0 { present |= 1 << UInt64(tag) }
            let blocks = rs.rules.count / 64 + (rs.rules.count % 64 == 0 ? 0 : 1)
            rs.byNeed.withUnsafeBufferPointer { byNeed in
            rs.masked.withUnsafeBufferPointer { rules in
            for block in 0..<blocks {
                // The block's rules whose needed tags are all present.
                @inline(__always) func live() -> UInt64 {
                    var absent = rs.needed & ~present, dead: UInt64 = 0
                    while absent != 0 { dead |= byNeed[block << 6 + absent.trailingZeroBitCount]; absent &= absent - 1 }
                    return ~dead
                }
                var bits = candidates[block] & live()
                while bits != 0 {
                    let index = bits.trailingZeroBitCount
                    let r = rules[block << 6 + index]
                    bits &= bits - 1
                    let av = table[Int(r.slotA)]
                    let a = (av << UInt64(r.la1)) >> UInt64(r.ra1) | (av << UInt64(r.la2)) >> UInt64(r.ra2)
                        | (av << UInt64(r.la3)) >> UInt64(r.ra3)
                    var bv: UInt64
                    if r.slotB >= 0 {
                        bv = table[Int(r.slotB)]
                    } else {
                        // A second word, which the sentence may lack.
                        bv = 0
                        let id = -1 - r.slotB
                        for i in 0..<t.count where w[i] == id { bv |= 1 << UInt64(i) }
                    }
                    let changed = m[Int(r.from)] & valid & a & (bv << UInt64(r.lb)) >> UInt64(r.rb) & (am[Int(r.to)] | free)
                    guard changed != 0 else { continue }
                    m[Int(r.from)] &= ~changed
                    m[Int(r.to)] |= changed
                    if m[Int(r.from)] & valid == 0 { present &= ~(1 << UInt64(r.from)) }
                    present |= 1 << UInt64(r.to)
                    // The rules after this one in the block, for the tags present now.
                    bits = candidates[block] & live() & (index == 63 ? 0 : ~0 << UInt64(index + 1))
                }
            }
            }
            }
            for tag in 2..<64 {
                var bits = m[tag] & valid
                while bits != 0 {
                    t[bits.trailingZeroBitCount] = UInt8(tag)
                    bits &= bits - 1
                }
            }
        }
    }

    /// Rule application position by position (sentences longer than 64 positions).
    private func runScan(_ rs: RuleSet, candidates: UnsafeMutableBufferPointer<UInt64>, tags t: UnsafeMutableBufferPointer<UInt8>,
                         words w: UnsafeBufferPointer<Int32>, suffixes s: UnsafeBufferPointer<Int32>,
                         allowed: UnsafeBufferPointer<UInt64>) {
        let pad = Self.pad, end = t.count - pad
        var present: UInt64 = 0
        for i in pad..<end { present |= 1 << UInt64(t[i]) }
        withUnsafeTemporaryAllocation(of: Int.self, capacity: end) { changes in
            for block in 0..<candidates.count {
                var bits = candidates[block]
                while bits != 0 {
                    let r = rs.rules[block << 6 + bits.trailingZeroBitCount]
                    bits &= bits - 1
                    guard present & (1 << UInt64(r.from)) != 0 else { continue }
                    let (ka, kb) = r.template.operands
                    let a: (UInt8?, Int32?) = ka == .tag ? (UInt8(r.a), nil) : (nil, r.a)
                    let b: (UInt8?, Int32?) = kb == .tag ? (UInt8(r.b), nil) : (nil, r.b)
                    var count = 0
                    for i in pad..<end where t[i] == r.from && allowed[i] & (1 << UInt64(r.to)) != 0
                        && r.template.holds(i, a: a, b: b, tag: { t[$0] }, word: { w[$0] }, suffix: { s[$0] }) {
                        changes[count] = i
                        count += 1
                    }
                    guard count > 0 else { continue }
                    for j in 0..<count { t[changes[j]] = r.to }
                    present = 0
                    for i in pad..<end { present |= 1 << UInt64(t[i]) }
                }
            }
        }
    }
}
