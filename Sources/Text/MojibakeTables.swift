import Foundation

/// What ftfy 6.3's mojibake repair reads (`Resources/mojibake-tables.tsv`, written by
/// `scripts/make_text_tables.py`): the single-byte encodings it tries, in its order, and the
/// character sets of its badness heuristic and UTF-8 detector.
struct MojibakeTables: Sendable {
    /// A single-byte encoding: byte -> scalar, and back.
    struct Charmap: Sendable {
        var name: String
        var decode: [Unicode.Scalar]
        var encode: [UInt32: UInt8]
        /// The scalars ftfy's `possible_encoding` accepts: ASCII but U+001A, and what bytes
        /// 0x80-0xFF and 0x1A decode to.
        var possible: Set<UInt32>

        var isSloppy: Bool { name.hasPrefix("sloppy") }
    }

    var charmaps: [Charmap] = []
    /// Badness categories (`common`, `c1`, `bad`, …) and UTF-8 clues (`utf8_first_of_2`, …).
    var sets: [String: Set<UInt32>] = [:]

    private static let bundled = BundledTable<MojibakeTables>("mojibake-tables.tsv") { rows in
        var tables = MojibakeTables()
        for fields in rows {
            let values = fields[2].split(separator: " ").compactMap { UInt32($0, radix: 16) }
            switch fields[0] {
            case "charmap":
                guard values.count == 256 else { throw TextError.missingResource("mojibake-tables.tsv: \(fields[1]) has \(values.count) bytes") }
                let scalars = values.compactMap(Unicode.Scalar.init)
                var encode: [UInt32: UInt8] = [:]
                for (byte, value) in values.enumerated() { encode[value] = UInt8(byte) }
                var possible = Set<UInt32>((0x00...0x19).map { $0 } + (0x1B...0x7F).map { $0 })
                possible.formUnion(values[0x80...])
                possible.insert(values[0x1A])
                tables.charmaps.append(Charmap(name: String(fields[1]), decode: scalars, encode: encode, possible: possible))
            case "category", "clue":
                tables.sets[String(fields[1]), default: []].formUnion(values)
            default: break
            }
        }
        return tables
    }

    static func shared() throws -> MojibakeTables { try bundled.get() }

    /// The union of the named sets plus the given literal characters.
    func union(_ names: [String], _ literal: String = "") -> Set<UInt32> {
        var out = Set(literal.unicodeScalars.map(\.value))
        for name in names { out.formUnion(sets[name] ?? []) }
        return out
    }
}
