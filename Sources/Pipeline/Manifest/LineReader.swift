import Foundation

/// Reads a file's lines in 64 KiB chunks (memory bounded by the longest line). Handles `\n`
/// and `\r\n`.
struct LineReader: IteratorProtocol {
    private let handle: FileHandle?
    private var buffer: [UInt8] = []
    private var start = 0
    private var atEnd = false

    init(path: String) {
        handle = FileHandle(forReadingAtPath: path)
        atEnd = handle == nil
    }

    /// The next line's bytes without its terminator.
    mutating func next() -> [UInt8]? {
        while true {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                var line = Array(buffer[start..<newline])
                if line.last == 0x0D { line.removeLast() }
                start = newline + 1
                return line
            }
            if atEnd {
                guard start < buffer.count else { return nil }
                let line = Array(buffer[start...])
                start = buffer.count
                return line
            }
            buffer.removeFirst(start)
            start = 0
            let chunk = handle?.readData(ofLength: 1 << 16) ?? Data()
            if chunk.isEmpty { atEnd = true; try? handle?.close() } else { buffer += chunk }
        }
    }
}

/// RFC 4180 records (quoted fields may hold separators, quotes and newlines), streamed.
struct DelimitedReader: IteratorProtocol {
    private var lines: LineReader
    let separator: UInt8
    /// 1-based line number where the last record started.
    private(set) var lineNumber = 0
    private var nextLine = 1

    init(path: String, separator: UInt8) {
        lines = LineReader(path: path)
        self.separator = separator
    }

    /// The next record's fields (bytes, unquoted), or nil at the end.
    mutating func next() -> [[UInt8]]? {
        guard var line = lines.next() else { return nil }
        lineNumber = nextLine
        nextLine += 1
        var fields: [[UInt8]] = []
        var field: [UInt8] = []
        var quoted = false
        var i = 0
        while true {
            if i >= line.count {
                if quoted, let more = lines.next() {
                    nextLine += 1
                    field.append(0x0A)
                    line = more
                    i = 0
                    continue
                }
                fields.append(field)
                return fields
            }
            let b = line[i]
            if quoted {
                if b == 0x22 {
                    if i + 1 < line.count && line[i + 1] == 0x22 { field.append(0x22); i += 1 } else { quoted = false }
                } else {
                    field.append(b)
                }
            } else if b == 0x22 && field.isEmpty {
                quoted = true
            } else if b == separator {
                fields.append(field)
                field = []
            } else {
                field.append(b)
            }
            i += 1
        }
    }
}
