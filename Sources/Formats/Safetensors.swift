import Foundation

/// The safetensors container (Hugging Face): an 8-byte little-endian header length, a JSON
/// header naming each tensor's dtype, shape and byte range, then the raw little-endian data.
public enum Safetensors {
    /// One tensor to write.
    public struct Entry: Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        /// A float32 tensor.
        public init(name: String, shape: [Int], floats: [Float]) {
            precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
            self.init(name: name, dtype: .f32, shape: shape, bytes: floats.withUnsafeBytes { Array($0) })
        }

        /// A float tensor stored as `F16` (`half`) or `F32`.
        public init(name: String, shape: [Int], floats: [Float], half: Bool) {
            guard half else { self.init(name: name, shape: shape, floats: floats); return }
            precondition(shape.reduce(1, *) == floats.count, "shape \(shape) does not match \(floats.count) values")
            let halves = floats.map { Float16($0).bitPattern }
            self.init(name: name, dtype: .f16, shape: shape, bytes: halves.withUnsafeBytes { Array($0) })
        }

        /// A little-endian int64 tensor.
        public init(name: String, shape: [Int], int64s: [Int]) {
            precondition(shape.reduce(1, *) == int64s.count, "shape \(shape) does not match \(int64s.count) values")
            self.init(name: name, dtype: .i64, shape: shape, bytes: int64s.map { Int64($0).littleEndian }.withUnsafeBytes { Array($0) })
        }
    }

    /// Serialises tensors (in the given order) with string metadata.
    public static func serialize(_ entries: [Entry], metadata: [String: String] = [:]) -> [UInt8] {
        var out = header(entries.map { ($0.name, $0.dtype, $0.shape) }, metadata: metadata)
        out.reserveCapacity(out.count + entries.reduce(0) { $0 + $1.bytes.count })
        for e in entries {
            precondition(e.bytes.count == e.shape.reduce(e.dtype.size, *), "\(e.name): \(e.bytes.count) bytes for shape \(e.shape)")
            out += e.bytes
        }
        return out
    }

    /// What precedes the data of a file holding these tensors in this order: the 8-byte header
    /// length and the JSON header padded to 8 bytes. The data follows it, each tensor's
    /// `shape.product × dtype.size` bytes after the previous one's, so a writer can place each
    /// tensor (or part of one) at its offset as soon as it is computed.
    public static func header(_ tensors: [(name: String, dtype: DType, shape: [Int])], metadata: [String: String] = [:]) -> [UInt8] {
        var header: [String] = []
        if !metadata.isEmpty {
            header.append("\"__metadata__\":{" + metadata.keys.sorted().map { quote($0) + ":" + quote(metadata[$0]!) }
                .joined(separator: ",") + "}")
        }
        var offset = 0
        for t in tensors {
            let size = t.shape.reduce(t.dtype.size, *)
            header.append(quote(t.name) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":[" + t.shape.map(String.init).joined(separator: ",")
                          + "],\"data_offsets\":[\(offset),\(offset + size)]}")
            offset += size
        }
        var json = Array(("{" + header.joined(separator: ",") + "}").utf8)
        while json.count % 8 != 0 { json.append(0x20) }
        var out = [UInt8]()
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { out += $0 }
        return out + json
    }

    /// Reads every tensor of a file into memory (for tests and small files).
    /// - Throws: ``FormatError`` `.malformed`.
    public static func read(_ bytes: [UInt8]) throws -> (tensors: [String: Entry], metadata: [String: String]) {
        func malformed(_ description: String) -> FormatError { FormatError(.malformed, description) }
        guard bytes.count >= 8 else { throw malformed("file shorter than the 8-byte header length") }
        let n = bytes[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        // Compared without adding, so a huge length cannot overflow (found by the fuzz harness).
        guard n > 0, n <= bytes.count - 8 else { throw malformed("header length \(n) exceeds the file") }
        guard let header = (try? JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + n)]))) as? [String: Any] else {
            throw malformed("header is not a JSON object")
        }
        var tensors: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        let data = 8 + n
        for (name, value) in header {
            if name == "__metadata__" { metadata = value as? [String: String] ?? [:]; continue }
            guard let info = value as? [String: Any], let dtype = (info["dtype"] as? String).flatMap(DType.init(rawValue:)),
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2,
                  offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= bytes.count - data else {
                throw malformed("bad entry for tensor '\(name)'")
            }
            tensors[name] = Entry(name: name, dtype: dtype, shape: shape, bytes: Array(bytes[(data + offsets[0])..<(data + offsets[1])]))
        }
        return (tensors, metadata)
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            default:
                if scalar.value < 0x20 { out += String(format: "\\u%04x", scalar.value) } else { out.unicodeScalars.append(scalar) }
            }
        }
        return out + "\""
    }
}
