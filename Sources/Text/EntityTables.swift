import Foundation

/// HTML character references: Python's `html.unescape` (WHATWG named references, numeric
/// references with the spec's replacements) and ftfy's stricter `unescape_html`.
struct EntityTables: Sendable {
    var html5: [String: String] = [:]
    var invalidCharrefs: [Int: String] = [:]
    var invalidCodepoints: Set<Int> = []
    var ftfy: [String: String] = [:]
    var longestName = 0

    private static let bundled = BundledTable<EntityTables>("html-entities.tsv") { rows in
        var tables = EntityTables()
        for fields in rows {
            let value = decode(fields[2])
            switch fields[0] {
            case "html5":
                tables.html5[String(fields[1])] = value
                tables.longestName = max(tables.longestName, fields[1].count)
            case "invalid_charref": tables.invalidCharrefs[Int(fields[1]) ?? -1] = value
            case "invalid_codepoint": tables.invalidCodepoints.insert(Int(fields[1]) ?? -1)
            case "ftfy": tables.ftfy[String(fields[1])] = value
            default: break
            }
        }
        return tables
    }

    static func shared() throws -> EntityTables { try bundled.get() }

    /// `\u{hex}` sequences to a string.
    static func decode(_ field: Substring) -> String {
        var out = String.UnicodeScalarView()
        for part in field.split(separator: "}") {
            guard let start = part.range(of: "\\u{")?.upperBound, let v = UInt32(part[start...], radix: 16),
                  let u = Unicode.Scalar(v) else { continue }
            out.append(u)
        }
        return String(out)
    }

    static let windows1252: [Unicode.Scalar] = [
        0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039, 0x152, 0x8D, 0x17D, 0x8F,
        0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
    ].map { Unicode.Scalar($0)! }

    /// Python's `html.unescape`: `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`.
    func unescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isDigit(_ c: Unicode.Scalar) -> Bool { c.value >= 0x30 && c.value <= 0x39 }
        func isHex(_ c: Unicode.Scalar) -> Bool { isDigit(c) || (0x41...0x46).contains(c.value) || (0x61...0x66).contains(c.value) }
        while i < u.count {
            guard u[i] == "&", i + 1 < u.count else { out.append(u[i]); i += 1; continue }
            var j = i + 1
            if u[j] == "#" {
                j += 1
                var hex = false
                if j < u.count, u[j] == "x" || u[j] == "X" { hex = true; j += 1 }
                let start = j
                while j < u.count, hex ? isHex(u[j]) : isDigit(u[j]) { j += 1 }
                guard j > start else { out.append(u[i]); i += 1; continue }
                let digits = String(String.UnicodeScalarView(u[start..<j]))
                if j < u.count, u[j] == ";" { j += 1 }
                let number = Int(digits.count > 12 ? "99999999" : digits, radix: hex ? 16 : 10) ?? Int.max
                if let replacement = invalidCharrefs[number] {
                    out.append(contentsOf: replacement.unicodeScalars)
                } else if (0xD800...0xDFFF).contains(number) || number > 0x10FFFF {
                    out.append("\u{FFFD}")
                } else if invalidCodepoints.contains(number) {
                    // dropped
                } else if let scalar = Unicode.Scalar(UInt32(number)) {
                    out.append(scalar)
                }
                i = j
                continue
            }
            // Named: up to 32 characters that are not \t \n \f space < & # ;, then an optional ';'.
            let start = j
            while j < u.count, j - start < 32, !["\t", "\n", "\u{0C}", " ", "<", "&", "#", ";"].contains(u[j]) { j += 1 }
            guard j > start else { out.append(u[i]); i += 1; continue }
            if j < u.count, u[j] == ";" { j += 1 }
            let name = String(String.UnicodeScalarView(u[start..<j]))
            if let value = html5[name] {
                out.append(contentsOf: value.unicodeScalars)
            } else {
                let scalars = Array(name.unicodeScalars)
                var matched = false
                var x = scalars.count - 1
                while x > 1 {
                    let prefix = String(String.UnicodeScalarView(scalars[0..<x]))
                    if let value = html5[prefix] {
                        out.append(contentsOf: value.unicodeScalars)
                        out.append(contentsOf: scalars[x...])
                        matched = true
                        break
                    }
                    x -= 1
                }
                if !matched {
                    out.append("&")
                    out.append(contentsOf: scalars)
                }
            }
            i = j
        }
        return String(out)
    }

    /// ftfy's `unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced when it is a known entity (or
    /// a numeric reference that decodes cleanly).
    func ftfyUnescape(_ s: String) -> String {
        guard s.contains("&") else { return s }
        let u = Array(s.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        func isAlnum(_ c: Unicode.Scalar) -> Bool {
            (0x30...0x39).contains(c.value) || (0x41...0x5A).contains(c.value) || (0x61...0x7A).contains(c.value)
        }
        while i < u.count {
            if u[i] == "&" {
                var j = i + 1
                if j < u.count, u[j] == "#" { j += 1 }
                let start = j
                while j < u.count, j - start < 24, isAlnum(u[j]) { j += 1 }
                if j > start, j < u.count, u[j] == ";" {
                    let entity = String(String.UnicodeScalarView(u[i...j]))
                    if let value = ftfy[entity] {
                        out.append(contentsOf: value.unicodeScalars)
                        i = j + 1
                        continue
                    }
                    if u[i + 1] == "#" {
                        let decoded = unescape(entity)
                        if !decoded.contains(";") {
                            out.append(contentsOf: decoded.unicodeScalars)
                            i = j + 1
                            continue
                        }
                    }
                }
            }
            out.append(u[i])
            i += 1
        }
        return String(out)
    }
}

/// Errors of the Text module.
public enum TextError: Error, CustomStringConvertible, Sendable {
    case missingResource(String)
    case badTokenizerFiles(String)

    public var description: String {
        switch self {
        case .missingResource(let name): return "the Text module's resource \(name) is missing"
        case .badTokenizerFiles(let why): return "cannot load tokenizer files: \(why)"
        }
    }
}
