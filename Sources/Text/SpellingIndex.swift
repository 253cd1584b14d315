/// The lexicon's words one edit away from a word it lacks (a letter dropped, added or changed, or
/// two neighbours swapped: peopel, awsome, islad), found through shared deletions: two words are
/// one such edit apart only if one is the other less a letter or both give the same word less
/// one letter. Every word of four or more letters a-z is indexed under itself and under each of
/// its one-letter deletions (by hash); a query looks up its own and its deletions' hashes and
/// checks each candidate exactly.
struct SpellingIndex: Sendable {
    /// Indexed words, end to end, with their tags.
    private var bytes: [UInt8] = []
    private var starts: [Int32] = [0]
    private var tags: [String] = []
    /// Open addressing over the entries (one per word and per deletion of it): the key hash's top
    /// 32 bits and the word's index + 1 (0: empty), so a probe reads one slot.
    private var slots: [UInt64] = []
    private var mask = 0

    /// Indexes the lower-case words of `lexicon` (word -> tag).
    init(_ lexicon: [String: String]) {
        var entries: [(hash: UInt64, word: Int32)] = []
        for (word, tag) in lexicon.sorted(by: { $0.key < $1.key }) {
            let u = Array(word.utf8)
            guard u.count >= 4, u.allSatisfy({ $0 &- 0x61 < 26 }) else { continue }
            let w = Int32(tags.count)
            bytes += u
            starts.append(Int32(bytes.count))
            tags.append(tag)
            u.withUnsafeBufferPointer { p in
                entries.append((ByteTable.hash(p), w))
                Self.eachDeletion(p) { entries.append((ByteTable.hash($0), w)) }
            }
        }
        var size = 16
        while size < entries.count + entries.count / 2 { size *= 2 } // at most two thirds full
        mask = size - 1
        slots = [UInt64](repeating: 0, count: size)
        for (h, w) in entries {
            var slot = Int(truncatingIfNeeded: h) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = (h & 0xFFFF_FFFF_0000_0000) | UInt64(w + 1)
        }
    }

    /// Calls `body` with each distinct word `word` less one letter (a run of one letter gives one).
    private static func eachDeletion(_ word: UnsafeBufferPointer<UInt8>, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        guard word.count > 1 else { return }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: word.count - 1) { out in
            for i in word.indices where i == 0 || word[i] != word[i - 1] {
                var k = 0
                for j in word.indices where j != i { out[k] = word[j]; k += 1 }
                body(UnsafeBufferPointer(out))
            }
        }
    }

    /// The tag of the indexed words exactly one edit from `lowered` (five or more letters a-z)
    /// when there are some and they all have the same tag; nil otherwise.
    func tag(_ lowered: String) -> String? {
        guard !tags.isEmpty else { return nil }
        var q = Array(lowered.utf8)
        guard q.count >= 5, q.allSatisfy({ $0 &- 0x61 < 26 }) else { return nil }
        var found: String?
        var conflict = false
        q.withUnsafeMutableBufferPointer { qp in
            let query = UnsafeBufferPointer(qp)
            func probe(_ key: UnsafeBufferPointer<UInt8>) {
                let h = ByteTable.hash(key), top = h & 0xFFFF_FFFF_0000_0000
                var slot = Int(truncatingIfNeeded: h) & mask
                while !conflict, slots[slot] != 0 {
                    let entry = slots[slot]
                    slot = (slot + 1) & mask
                    guard entry & 0xFFFF_FFFF_0000_0000 == top else { continue }
                    let w = Int(truncatingIfNeeded: entry & 0xFFFF_FFFF) - 1
                    let candidate = bytes.withUnsafeBufferPointer { b in
                        UnsafeBufferPointer(rebasing: b[Int(starts[w])..<Int(starts[w + 1])])
                    }
                    guard Self.oneEditApart(query, candidate) else { continue }
                    if let f = found, f != tags[w] { conflict = true } else { found = tags[w] }
                }
            }
            probe(query)
            Self.eachDeletion(query) { probe($0) }
        }
        return conflict ? nil : found
    }

    /// Whether `a` becomes `b` by exactly one deletion, insertion, substitution or swap of
    /// neighbours.
    static func oneEditApart(_ a: UnsafeBufferPointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let (long, short) = a.count >= b.count ? (a, b) : (b, a)
        var i = 0
        while i < short.count && long[i] == short[i] { i += 1 }
        if long.count == short.count {
            guard i < long.count else { return false } // equal
            if long[(i + 1)...].elementsEqual(short[(i + 1)...]) { return true } // one substitution
            return i + 1 < long.count && long[i] == short[i + 1] && long[i + 1] == short[i]
                && long[(i + 2)...].elementsEqual(short[(i + 2)...])
        }
        guard long.count == short.count + 1 else { return false }
        return long[(i + 1)...].elementsEqual(short[i...])
    }
}
