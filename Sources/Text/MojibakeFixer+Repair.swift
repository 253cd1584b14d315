/// The repair steps of ftfy's `fix_encoding`, over scalar values (text) and byte values.
extension MojibakeFixer {
    /// ftfy's `fix_encoding`: one repair step at a time until the text no longer changes.
    func fixEncoding(_ text: String) -> String {
        let scalars = text.unicodeScalars.map(\.value)
        let fixed = fixEncoding(scalars)
        guard fixed != scalars else { return text }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: fixed.compactMap(Unicode.Scalar.init))
        return String(out)
    }

    func fixEncoding(_ text: [UInt32]) -> [UInt32] {
        var current = text
        while true {
            let next = oneStep(current)
            if next == current { return current }
            current = next
        }
    }

    /// `_fix_encoding_one_step_and_explain`.
    func oneStep(_ s: [UInt32]) -> [UInt32] {
        guard !s.isEmpty, !s.allSatisfy({ $0 < 0x80 }), isBad(s) else { return s }
        var latin1Possible = false
        for map in charmaps where s.allSatisfy({ map.possible.contains($0) }) {
            if map.name == "latin-1" { latin1Possible = true }
            var bytes = s.map { UInt32(map.encode[$0] ?? 0x1A) }
            if map.name != "macroman", bytes.indices.contains(where: { i in Self.alteredUTF8.contains { $0.match(bytes, at: i) != nil } }) {
                bytes = Self.restoreByteA0(bytes)
            }
            if map.isSloppy {
                bytes = Self.substitute(bytes, Self.lossyUTF8) { _ in [0xEF, 0xBF, 0xBD] }
            }
            if let decoded = Self.decodeUTF8Variants(bytes) { return decoded }
        }
        if detectorFinds(s) {
            let fixed = decodeInconsistentUTF8(s)
            if fixed != s { return fixed }
        }
        // Latin-1 text read as (strict) Windows-1252, which leaves 81, 8D, 8F, 90 and 9D undefined.
        if latin1Possible && !s.contains(where: { [0x81, 0x8D, 0x8F, 0x90, 0x9D].contains($0) }) {
            let fixed = s.map { (0x80...0x9F).contains($0) ? EntityTables.windows1252[Int($0) - 0x80].value : $0 }
            if fixed != s { return fixed }
        }
        // fix_c1_controls: C1 controls as sloppy Windows-1252.
        if s.contains(where: { (0x80...0x9F).contains($0) }) {
            return s.map { (0x80...0x9F).contains($0) ? EntityTables.windows1252[Int($0) - 0x80].value : $0 }
        }
        return s
    }

    // MARK: - Embedded UTF-8 mojibake

    /// The end of a run of UTF-8-looking sequences starting at `start` (`UTF8_DETECTOR_RE`), or nil.
    func detectorRun(_ s: [UInt32], at start: Int) -> Int? {
        if start > 0 && detectorNotAfter.contains(s[start - 1]) { return nil }
        var end = start
        while let next = detector.lazy.compactMap({ $0.match(s, at: end) }).first { end = next }
        return end > start ? end : nil
    }

    func detectorFinds(_ s: [UInt32]) -> Bool {
        s.indices.contains { detectorRun(s, at: $0) != nil }
    }

    /// `decode_inconsistent_utf8`: each detected run shorter than the text that looks bad is
    /// repaired on its own.
    func decodeInconsistentUTF8(_ s: [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        var i = 0
        while i < s.count {
            guard let end = detectorRun(s, at: i) else { out.append(s[i]); i += 1; continue }
            let run = Array(s[i..<end])
            out += run.count < s.count && isBad(run) ? fixEncoding(run) : run
            i = end
        }
        return out
    }

    // MARK: - Byte-level mending

    /// Byte patterns as one-byte steps over value sets.
    static func bytes(_ sets: [ClosedRange<UInt32>]...) -> Pattern {
        Pattern(steps: sets.map { ranges in Step(test: { value in ranges.contains { $0.contains(value) } }) })
    }

    /// `ALTERED_UTF8_RE`: UTF-8 sequences whose byte A0 became a space.
    static let alteredUTF8: [Pattern] = {
        let sp: [ClosedRange<UInt32>] = [0x20...0x20], any: [ClosedRange<UInt32>] = [0x80...0xBF]
        let cont: [ClosedRange<UInt32>] = [0x80...0x84, 0x86...0x9F, 0xA1...0xBF]
        return [
            bytes([0xC2...0xC3, 0xC5...0xC5, 0xCE...0xCE, 0xD0...0xD0, 0xD9...0xD9], sp),
            bytes([0xE2...0xE3], sp, cont),
            bytes([0xE0...0xE3], cont, sp),
            bytes([0xF0...0xF0], sp, any, any),
            bytes([0xF0...0xF0], any, sp, any),
            bytes([0xF0...0xF0], any, any, sp),
        ]
    }()

    /// `LOSSY_UTF8_RE`: UTF-8 sequences with bytes lost to U+FFFD (byte 1A) or '?'.
    static let lossyUTF8: [Pattern] = {
        let sub: ClosedRange<UInt32> = 0x1A...0x1A, q: ClosedRange<UInt32> = 0x3F...0x3F, cont: ClosedRange<UInt32> = 0x80...0xBF
        return [
            bytes([0xC2...0xDF], [sub]),
            bytes([0xC2...0xC3], [q]),
            bytes([0xED...0xED], [0xA0...0xAF], [sub, q], [0xED...0xED], [0xB0...0xBF], [sub, q, cont]),
            bytes([0xED...0xED], [0xA0...0xAF], [sub, q, cont], [0xED...0xED], [0xB0...0xBF], [sub, q]),
            bytes([0xE0...0xEF], [sub, q], [sub, cont]),
            bytes([0xE0...0xEF], [sub, cont], [sub, q]),
            bytes([0xF0...0xF4], [sub, q], [sub, cont], [sub, cont]),
            bytes([0xF0...0xF4], [sub, cont], [sub, q], [sub, cont]),
            bytes([0xF0...0xF4], [sub, cont], [sub, cont], [sub, q]),
            bytes([sub]),
        ]
    }()

    /// Replaces each leftmost non-overlapping match of the first matching pattern (`re.sub`).
    static func substitute(_ s: [UInt32], _ patterns: [Pattern], _ replacement: ([UInt32]) -> [UInt32]) -> [UInt32] {
        var out: [UInt32] = []
        var i = 0
        while i < s.count {
            if let end = patterns.lazy.compactMap({ $0.match(s, at: i) }).first {
                out += replacement(Array(s[i..<end]))
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// `restore_byte_a0`: "Ã " not followed by a space, "quele", "quela", "quilo" or "s " is "à ";
    /// then the spaces in altered UTF-8 sequences become A0 again.
    static func restoreByteA0(_ s: [UInt32]) -> [UInt32] {
        let exceptions: [[UInt32]] = [" ", "quele", "quela", "quilo", "s "].map { $0.unicodeScalars.map(\.value) }
        var graves: [UInt32] = []
        var i = 0
        while i < s.count {
            if s[i] == 0xC3, i + 1 < s.count, s[i + 1] == 0x20,
               !exceptions.contains(where: { e in s.count - (i + 2) >= e.count && Array(s[(i + 2)..<(i + 2 + e.count)]) == e }) {
                graves += [0xC3, 0xA0, 0x20]
                i += 2
            } else {
                graves.append(s[i])
                i += 1
            }
        }
        return substitute(graves, alteredUTF8) { $0.map { $0 == 0x20 ? 0xA0 : $0 } }
    }

    /// UTF-8 as Python decodes it strictly, plus ftfy's `utf-8-variants`: C0 80 is U+0000 and a
    /// CESU-8 surrogate pair (ED A0-AF xx ED B0-BF xx) is one supplementary character. Nil
    /// where Python raises.
    static func decodeUTF8Variants(_ b: [UInt32]) -> [UInt32]? {
        var out: [UInt32] = []
        out.reserveCapacity(b.count)
        var i = 0
        func isCont(_ j: Int, _ range: ClosedRange<UInt32> = 0x80...0xBF) -> Bool { j < b.count && range.contains(b[j]) }
        while i < b.count {
            let b0 = b[i]
            if b0 < 0x80 { out.append(b0); i += 1; continue }
            if b0 == 0xC0, isCont(i + 1, 0x80...0x80) { out.append(0); i += 2; continue }
            if b0 == 0xED, isCont(i + 1, 0xA0...0xAF), isCont(i + 2), i + 3 < b.count, b[i + 3] == 0xED, isCont(i + 4, 0xB0...0xBF), isCont(i + 5) {
                out.append(((b[i + 1] & 0x0F) << 16) + ((b[i + 2] & 0x3F) << 10) + ((b[i + 4] & 0x0F) << 6) + (b[i + 5] & 0x3F) + 0x10000)
                i += 6
                continue
            }
            let (count, second): (Int, ClosedRange<UInt32>)
            switch b0 {
            case 0xC2...0xDF: (count, second) = (1, 0x80...0xBF)
            case 0xE0: (count, second) = (2, 0xA0...0xBF)
            case 0xE1...0xEC, 0xEE...0xEF: (count, second) = (2, 0x80...0xBF)
            case 0xED: (count, second) = (2, 0x80...0x9F)
            case 0xF0: (count, second) = (3, 0x90...0xBF)
            case 0xF1...0xF3: (count, second) = (3, 0x80...0xBF)
            case 0xF4: (count, second) = (3, 0x80...0x8F)
            default: return nil
            }
            guard isCont(i + 1, second) else { return nil }
            var value = b0 & (count == 1 ? 0x1F : count == 2 ? 0x0F : 0x07)
            for k in 1...count {
                guard isCont(i + k, k == 1 ? second : 0x80...0xBF) else { return nil }
                value = (value << 6) | (b[i + k] & 0x3F)
            }
            out.append(value)
            i += count + 1
        }
        return out
    }
}
