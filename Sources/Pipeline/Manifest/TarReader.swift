public import BuildSupport
import Foundation

/// A streaming reader of tar archives (POSIX ustar, GNU long names, pax extended headers), as
/// WebDataset shards are written. It reads headers only and seeks past member data, so memory
/// does not grow with the archive.
public struct TarReader: Sequence, IteratorProtocol {
    /// One member's header.
    public struct Member: Sendable, Equatable {
        /// Member path as stored (pax/GNU long names applied).
        public var name: String
        /// `0` regular, `1` hard link, `2` symlink, `5` directory, …
        public var type: UInt8
        /// Link target for links.
        public var linkName: String
        /// Offset of the member's data in the archive.
        public var offset: Int
        /// Data size in bytes.
        public var size: Int
        /// Whether this is a regular file.
        public var isFile: Bool { type == UInt8(ascii: "0") || type == 0 || type == UInt8(ascii: "7") }
        /// Whether this is a symbolic or hard link.
        public var isLink: Bool { type == UInt8(ascii: "1") || type == UInt8(ascii: "2") }
    }

    private let fd: Int32
    private let fileSize: Int
    private var position = 0
    private var pendingLongName: String?
    private var pendingLongLink: String?
    private var paxPath: String?
    private var paxLink: String?
    private var paxSize: Int?
    /// The error that ended iteration early, if any (corrupt header, truncated archive).
    public private(set) var error: PipelineError?
    /// The archive path.
    public let path: String

    /// Opens an archive.
    /// - Throws: ``PipelineError`` `.io`.
    public init(path: String) throws {
        self.path = path
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AtomicFile.ioError("cannot open tar", path) }
        var info = stat()
        fstat(fd, &info)
        fileSize = Int(info.st_size)
    }

    /// Closes the file. Call when done (a struct has no deinit).
    public func close() { _ = Foundation.close(fd) }

    private func readBlock(at offset: Int, count: Int) -> [UInt8]? {
        guard offset + count <= fileSize else { return nil }
        var block = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = block.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return nil }
            done += n
        }
        return block
    }

    private mutating func fail(_ message: String) -> Member? {
        error = PipelineError(.archive, "\(message) at byte \(position)", file: path)
        return nil
    }

    /// The next member, or nil at the end (check ``error``).
    public mutating func next() -> Member? {
        while true {
            if error != nil || position >= fileSize { return nil }
            guard let header = readBlock(at: position, count: 512) else { return fail("truncated tar header") }
            if header.allSatisfy({ $0 == 0 }) { return nil }
            guard Self.checksumMatches(header) else { return fail("corrupt tar header (bad checksum)") }
            guard let size = Self.number(header[124..<136]) else { return fail("bad size field in tar header") }
            let type = header[156]
            let dataOffset = position + 512
            let dataSize = paxSize ?? size
            let next = dataOffset + (dataSize + 511) / 512 * 512
            guard dataOffset + dataSize <= fileSize else { return fail("tar member data is truncated") }
            switch type {
            case UInt8(ascii: "L"), UInt8(ascii: "K"):
                guard let data = readBlock(at: dataOffset, count: dataSize) else { return fail("truncated long name") }
                let text = Self.cString(data[...])
                if type == UInt8(ascii: "L") { pendingLongName = text } else { pendingLongLink = text }
                position = next
                continue
            case UInt8(ascii: "x"), UInt8(ascii: "g"):
                guard let data = readBlock(at: dataOffset, count: dataSize) else { return fail("truncated pax header") }
                if type == UInt8(ascii: "x") { parsePax(data) }
                position = next
                continue
            default:
                break
            }
            var name = Self.cString(header[0..<100])
            let magic = Self.cString(header[257..<262])
            if magic == "ustar" {
                let prefix = Self.cString(header[345..<500])
                if !prefix.isEmpty { name = prefix + "/" + name }
            }
            name = paxPath ?? pendingLongName ?? name
            let link = paxLink ?? pendingLongLink ?? Self.cString(header[157..<257])
            let member = Member(name: name, type: type, linkName: link, offset: dataOffset, size: dataSize)
            pendingLongName = nil
            pendingLongLink = nil
            paxPath = nil
            paxLink = nil
            paxSize = nil
            position = next
            return member
        }
    }

    private mutating func parsePax(_ data: [UInt8]) {
        var i = 0
        while i < data.count {
            guard let space = data[i...].firstIndex(of: UInt8(ascii: " ")),
                  let length = Int(String(decoding: data[i..<space], as: UTF8.self)), length > 0,
                  i + length <= data.count,
                  // "LEN key=value\n": the record must hold at least its length, the space and the newline
                  // (a short LEN made the range inverted and trapped; found by the fuzz harness).
                  space + 1 <= i + length - 1 else { return }
            let record = String(decoding: data[(space + 1)..<(i + length - 1)], as: UTF8.self)
            if let eq = record.firstIndex(of: "=") {
                let key = record[..<eq], value = String(record[record.index(after: eq)...])
                switch key {
                case "path": paxPath = value
                case "linkpath": paxLink = value
                case "size": paxSize = Int(value)
                default: break
                }
            }
            i += length
        }
    }

    static func cString(_ bytes: ArraySlice<UInt8>) -> String {
        let end = bytes.firstIndex(of: 0) ?? bytes.endIndex
        return String(decoding: bytes[bytes.startIndex..<end], as: UTF8.self)
    }

    static func number(_ field: ArraySlice<UInt8>) -> Int? {
        if let first = field.first, first & 0x80 != 0 {
            // GNU base-256 encoding.
            var value = Int(first & 0x7F)
            for b in field.dropFirst() {
                guard value < (Int.max >> 8) else { return nil }
                value = value << 8 | Int(b)
            }
            return value
        }
        let text = cString(field).trimmingCharacters(in: .whitespaces)
        if text.isEmpty { return 0 }
        return Int(text, radix: 8)
    }

    static func checksumMatches(_ header: [UInt8]) -> Bool {
        guard let stored = number(header[148..<156]) else { return false }
        var sum = 0
        for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
        return sum == stored
    }
}
