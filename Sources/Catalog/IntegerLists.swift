/// The JSON integer lists the catalog stores in columns (token positions `[3,4]`, subject rows
/// `[[k,row],…]`, boxes): written compactly, read strictly, so damaged data is an error rather
/// than an empty list.
enum IntegerLists {
    /// `[1,2,3]`.
    static func render(_ values: [Int]) -> String {
        "[" + values.map(String.init).joined(separator: ",") + "]"
    }

    /// `[[1,2],[3,4]]`.
    static func render(pairs: [(Int, Int)]) -> String {
        "[" + pairs.map { "[\($0.0),\($0.1)]" }.joined(separator: ",") + "]"
    }

    /// A flat list of integers.
    static func list(_ text: String, column: String, path: String) throws -> [Int] {
        var parser = Parser(bytes: Array(text.utf8))
        guard let values = parser.list(), parser.atEnd else {
            throw CatalogError(.corrupt, "\(column) holds '\(text.prefix(80))', not a list of integers", path: path)
        }
        return values
    }

    /// A list of integer pairs.
    static func pairs(_ text: String, column: String, path: String) throws -> [(Int, Int)] {
        var parser = Parser(bytes: Array(text.utf8))
        var out: [(Int, Int)] = []
        var ok = parser.take(UInt8(ascii: "["))
        if ok && !parser.take(UInt8(ascii: "]")) {
            repeat {
                guard let pair = parser.list(), pair.count == 2 else { ok = false; break }
                out.append((pair[0], pair[1]))
            } while parser.take(UInt8(ascii: ","))
            ok = ok && parser.take(UInt8(ascii: "]"))
        }
        guard ok, parser.atEnd else {
            throw CatalogError(.corrupt, "\(column) holds '\(text.prefix(80))', not a list of integer pairs", path: path)
        }
        return out
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        var atEnd: Bool {
            mutating get { skipSpace(); return i == bytes.count }
        }

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        }

        mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard i < bytes.count, bytes[i] == byte else { return false }
            i += 1
            return true
        }

        mutating func integer() -> Int? {
            skipSpace()
            let start = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            return Int(String(decoding: bytes[start..<i], as: UTF8.self))
        }

        /// `[` integers separated by `,` `]`.
        mutating func list() -> [Int]? {
            guard take(UInt8(ascii: "[")) else { return nil }
            var values: [Int] = []
            if take(UInt8(ascii: "]")) { return values }
            repeat {
                guard let value = integer() else { return nil }
                values.append(value)
            } while take(UInt8(ascii: ","))
            return take(UInt8(ascii: "]")) ? values : nil
        }
    }
}
