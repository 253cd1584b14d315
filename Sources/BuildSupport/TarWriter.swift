import Foundation

/// Writes ustar archives (with pax headers for long names), for the sample generator and tests.
public struct TarWriter {
    /// The archive bytes so far.
    public private(set) var bytes: [UInt8] = []

    public init() {}

    /// Appends a member: a regular file by default, or a link (`type` "1"/"2" with `linkName`).
    public mutating func add(name: String, data: [UInt8], type: UInt8 = UInt8(ascii: "0"), linkName: String = "") {
        if name.utf8.count > 99 {
            let record = paxRecord("path", name)
            appendHeader(name: "PaxHeader", size: record.count, type: UInt8(ascii: "x"), linkName: "")
            appendData(record)
        }
        appendHeader(name: String(name.utf8.prefix(99)).map { $0 } ?? "", size: data.count, type: type, linkName: linkName)
        appendData(data)
    }

    /// Ends the archive with two zero blocks and returns it.
    public mutating func finish() -> [UInt8] {
        bytes += [UInt8](repeating: 0, count: 1024)
        return bytes
    }

    private func paxRecord(_ key: String, _ value: String) -> [UInt8] {
        let body = " \(key)=\(value)\n"
        var length = body.utf8.count + 1
        while String(length).utf8.count + body.utf8.count != length { length = String(length).utf8.count + body.utf8.count }
        return Array((String(length) + body).utf8)
    }

    private mutating func appendData(_ data: [UInt8]) {
        bytes += data
        let pad = (512 - data.count % 512) % 512
        bytes += [UInt8](repeating: 0, count: pad)
    }

    private mutating func appendHeader(name: String, size: Int, type: UInt8, linkName: String) {
        var h = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, _ at: Int, _ width: Int) {
            for (i, b) in text.utf8.prefix(width).enumerated() { h[at + i] = b }
        }
        func octal(_ value: Int, _ at: Int, _ width: Int) {
            put(String(repeating: "0", count: max(0, width - 1 - String(value, radix: 8).count)) + String(value, radix: 8), at, width - 1)
        }
        put(name, 0, 100)
        octal(0o644, 100, 8)
        octal(0, 108, 8)
        octal(0, 116, 8)
        octal(size, 124, 12)
        octal(0, 136, 12)
        h[156] = type
        put(linkName, 157, 100)
        put("ustar", 257, 6)
        put("00", 263, 2)
        for i in 148..<156 { h[i] = 32 }
        let sum = h.reduce(0) { $0 + Int($1) }
        put(String(repeating: "0", count: 6 - String(sum, radix: 8).count) + String(sum, radix: 8), 148, 6)
        h[154] = 0
        h[155] = 32
        bytes += h
    }
}
