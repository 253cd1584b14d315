import Foundation

/// An open-addressing hash table from UTF-8 strings to lexicon entries, looked up by bytes
/// (FNV-1a), so tagging an ASCII word makes no string.
struct ByteTable: Sendable {
    private var bytes: [UInt8] = []
    private var starts: [Int32] = []
    private var values: [RuleEngine.Entry] = []
    /// Entry index + 1 per slot; 0 is empty.
    private var slots: [Int32]
    private let mask: Int

    init(_ pairs: [(String, RuleEngine.Entry)]) {
        var size = 16
        while size < pairs.count * 2 { size *= 2 }
        mask = size - 1
        slots = [Int32](repeating: 0, count: size)
        for (key, value) in pairs {
            let start = bytes.count
            bytes += Array(key.utf8)
            starts.append(Int32(start))
            values.append(value)
            let index = Int32(values.count)
            var slot = Int(truncatingIfNeeded: Array(key.utf8).withUnsafeBufferPointer { Self.hash($0) }) & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = index
        }
        starts.append(Int32(bytes.count))
    }

    /// A multiply-xorshift hash over eight bytes at a time (words are short; this is the lookup's
    /// inner loop).
    @inline(__always)
    static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(key.count)
        guard let base = key.baseAddress else { return h }
        let raw = UnsafeRawPointer(base)
        var i = 0
        while i + 8 <= key.count {
            h = (h ^ raw.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x9FB2_1C65_1E98_DF25
            h ^= h >> 29
            i += 8
        }
        if i < key.count {
            var tail: UInt64 = 0
            for k in i..<key.count { tail |= UInt64(base[k]) << UInt64(8 * (k - i)) }
            h = (h ^ tail) &* 0x9FB2_1C65_1E98_DF25
            h ^= h >> 29
        }
        return h ^ (h >> 32)
    }

    /// Whether `count` bytes at `a` and `b` are equal, eight at a time.
    @inline(__always)
    static func equal(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, count: Int) -> Bool {
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var i = 0
        while i + 8 <= count {
            if ra.loadUnaligned(fromByteOffset: i, as: UInt64.self) != rb.loadUnaligned(fromByteOffset: i, as: UInt64.self) { return false }
            i += 8
        }
        while i < count {
            if a[i] != b[i] { return false }
            i += 1
        }
        return true
    }

    @inline(__always)
    func find(_ key: UnsafeBufferPointer<UInt8>) -> RuleEngine.Entry? {
        var slot = Int(truncatingIfNeeded: Self.hash(key)) & mask
        return slots.withUnsafeBufferPointer { slots in
            bytes.withUnsafeBufferPointer { arena in
                starts.withUnsafeBufferPointer { starts in
                    while true {
                        let index = Int(slots[slot])
                        if index == 0 { return nil }
                        let start = Int(starts[index - 1]), length = Int(starts[index]) - start
                        if length == key.count && (length == 0 || Self.equal(arena.baseAddress! + start, key.baseAddress!, count: length)) {
                            return values[index - 1]
                        }
                        slot = (slot + 1) & mask
                    }
                }
            }
        }
    }

    func find(_ key: String) -> RuleEngine.Entry? {
        var key = key
        return key.withUTF8 { find($0) }
    }
}
