import Foundation

/// The caption cleaning of OpenAI CLIP / open_clip's tokenizer (`basic_clean` then
/// `whitespace_clean`, lower-cased): ftfy's `fix_text` fixes that matter for captions, Python's
/// `html.unescape` twice, whitespace folding, `str.lower()`.
///
/// ftfy 6.3's steps, in its order and repeated until nothing changes, per line: HTML entities
/// (only when the text has no `<`), mojibake repair (``MojibakeFixer``: UTF-8 read as Latin-1,
/// Windows code pages, MacRoman or CP437, found by ftfy's badness heuristic), C1 controls read
/// as Windows-1252, Latin ligatures, full/half-width forms, curly quotes, line breaks, terminal
/// escapes, control characters, NFC.
public struct TextCleaner: Sendable {
    let tables: EntityTables
    let mojibake: MojibakeFixer

    /// Loads the entity and encoding tables shipped with the module.
    public init() throws {
        tables = try EntityTables.shared()
        mojibake = MojibakeFixer(tables: try MojibakeTables.shared())
    }

    /// `whitespace_clean(basic_clean(text)).lower()`.
    public func clean(_ text: String) -> String {
        var s = fixText(text)
        s = tables.unescape(tables.unescape(s))
        return Self.lowercased(Self.foldWhitespace(s))
    }

    /// Python's `str.lower()`: each scalar's full lowercase mapping, with capital sigma as final
    /// sigma when a cased letter precedes it and none follows (case-ignorable scalars skipped).
    static func lowercased(_ s: String) -> String {
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        for (i, c) in u.enumerated() {
            if c.value == 0x3A3 {
                var j = i - 1
                while j >= 0, u[j].properties.isCaseIgnorable { j -= 1 }
                var final = j >= 0 && u[j].properties.isCased
                if final {
                    var k = i + 1
                    while k < u.count, u[k].properties.isCaseIgnorable { k += 1 }
                    final = k == u.count || !u[k].properties.isCased
                }
                out.append(Unicode.Scalar(final ? 0x3C2 : 0x3C3)!)
                continue
            }
            if c.isASCII {
                out.append(c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 32)! : c)
            } else {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return String(out)
    }

    /// Python's `str.isspace()`.
    static func isSpace(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: return true
        default: return false
        }
    }

    /// `" ".join(text.split())`.
    static func foldWhitespace(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for u in s.unicodeScalars {
            if isSpace(u) { pendingSpace = !out.isEmpty; continue }
            if pendingSpace { out.append(" "); pendingSpace = false }
            out.append(u)
        }
        return String(out)
    }

    /// ftfy's `fix_text` with the default config.
    func fixText(_ text: String) -> String {
        var out = ""
        var unescape = true
        var rest = Substring(text)
        while !rest.isEmpty {
            let end = rest.firstIndex(of: "\n").map { rest.index(after: $0) } ?? rest.endIndex
            let segment = String(rest[..<end])
            if segment.contains("<") { unescape = false }
            out += fixSegment(segment, unescapeHTML: unescape)
            rest = rest[end...]
        }
        return out
    }

    func fixSegment(_ text: String, unescapeHTML: Bool) -> String {
        var text = text
        for _ in 0..<16 {
            let original = text
            if unescapeHTML { text = tables.ftfyUnescape(text) }
            text = mojibake.fixEncoding(text)
            text = mapScalars(text) { u in
                // fix_c1_controls: U+0080-U+009F as (sloppy) Windows-1252.
                if (0x80...0x9F).contains(u.value) { return [EntityTables.windows1252[Int(u.value) - 0x80]] }
                return nil
            }
            text = mapScalars(text) { u in Self.ligatures[u.value].map { Array($0.unicodeScalars) } }
            text = mapScalars(text) { u in
                // fix_character_width: NFKC of U+FF01-U+FFEF, and U+3000 as a space.
                if u.value == 0x3000 { return [" "] }
                guard (0xFF01...0xFFEF).contains(u.value) else { return nil }
                let nfkc = String(u).precomposedStringWithCompatibilityMapping
                return nfkc == String(u) ? nil : Array(nfkc.unicodeScalars)
            }
            text = mapScalars(text) { u in
                switch u.value {
                case 0x2BC, 0x2018...0x201B: return ["'"]
                case 0x201C...0x201F: return ["\""]
                default: return nil
                }
            }
            text = text.replacingOccurrences(of: "\r\n", with: "\n")
            text = mapScalars(text) { u in [0x0D, 0x2028, 0x2029, 0x85].contains(u.value) ? ["\n"] : nil }
            text = Self.removeTerminalEscapes(text)
            text = mapScalars(text) { u in
                switch u.value {
                case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return []
                default: return nil
                }
            }
            text = text.precomposedStringWithCanonicalMapping
            if text == original { break }
        }
        return text
    }

    static let ligatures: [UInt32: String] = {
        var map: [UInt32: String] = [:]
        for u in "ĲĳĿŀŉǄǅǆǇǈǉǊǋǌǱǲǳﬀﬁﬂﬃﬄﬅﬆ".unicodeScalars {
            map[u.value] = String(u).precomposedStringWithCompatibilityMapping
        }
        return map
    }()

    /// Removes `ESC [ (digits|;)* letter` sequences.
    static func removeTerminalEscapes(_ text: String) -> String {
        guard text.unicodeScalars.contains("\u{1B}") else { return text }
        let scalars = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if scalars[i] == "\u{1B}", i + 1 < scalars.count, scalars[i + 1] == "[" {
                var j = i + 2
                while j < scalars.count, (scalars[j].properties.numericType == .decimal && scalars[j].isASCII) || scalars[j] == ";" { j += 1 }
                if j < scalars.count, scalars[j].isASCII, scalars[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(scalars[i])
            i += 1
        }
        return String(out)
    }

    func mapScalars(_ text: String, _ transform: (Unicode.Scalar) -> [Unicode.Scalar]?) -> String {
        var changed = false
        var out = String.UnicodeScalarView()
        for u in text.unicodeScalars {
            if let replacement = transform(u) {
                out.append(contentsOf: replacement)
                changed = true
            } else {
                out.append(u)
            }
        }
        return changed ? String(out) : text
    }
}
