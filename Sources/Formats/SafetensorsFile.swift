import Foundation

/// A memory-mapped safetensors file: the header validated on open (JSON object; dtypes known;
/// shapes matching byte sizes; offsets inside the data and not overlapping; no duplicate
/// names), tensors read as float32 on demand (f32 without a copy when aligned; f16 and bf16
/// converted).
public final class SafetensorsFile: @unchecked Sendable {
    // @unchecked: the mapping is read-only and lives as long as the object.
    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let base: UnsafeRawPointer
    private let size: Int
    private let dataStart: Int

    /// One tensor's place in the file.
    public struct Entry: Sendable {
        public var dtype: DType
        public var shape: [Int]
        public var range: Range<Int>
        public var count: Int { shape.reduce(1, *) }
    }

    /// Maps and validates a file.
    /// - Throws: ``FormatError`` naming the file and the problem.
    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FormatError(.missingFile, "cannot open (\(String(cString: strerror(errno))))", path: path) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw FormatError(.malformed, "cannot stat", path: path) }
        size = Int(info.st_size)
        guard size >= 8 else { throw FormatError(.malformed, "file of \(size) bytes is shorter than its 8-byte header length", path: path) }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw FormatError(.malformed, "cannot map the file", path: path)
        }
        base = UnsafeRawPointer(mapped)
        var headerLength = 0
        for i in 0..<8 { headerLength |= Int(base.load(fromByteOffset: i, as: UInt8.self)) << (8 * i) }
        guard headerLength > 1, headerLength <= size - 8, headerLength < 100 << 20 else {
            munmap(mapped, size)
            throw FormatError(.malformed, "header length \(headerLength) does not fit a file of \(size) bytes (truncated?)", path: path)
        }
        dataStart = 8 + headerLength
        do {
            (entries, metadata) = try Self.parseHeader(Data(bytes: base + 8, count: headerLength), dataBytes: size - dataStart)
        } catch let error as FormatError {
            munmap(mapped, size)
            var e = error
            e.path = path
            throw e
        }
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), size) }

    static func parseHeader(_ data: Data, dataBytes: Int) throws -> ([String: Entry], [String: String]) {
        // Duplicate keys: JSONSerialization keeps the last, so count the names in the raw text.
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw FormatError(.malformed, "header is not a JSON object")
        }
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in object {
            if name == "__metadata__" {
                guard let m = value as? [String: String] else { throw FormatError(.malformed, "__metadata__ is not a string map") }
                metadata = m
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw FormatError(.malformed, "tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dtypeName) else { throw FormatError(.malformed, "tensor '\(name)' has unknown dtype \(dtypeName)") }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataBytes else {
                throw FormatError(.malformed, "tensor '\(name)' has offsets \(offsets) outside the \(dataBytes) data bytes (truncated?)")
            }
            let count = shape.reduce(1, *)
            guard count * dtype.size == offsets[1] - offsets[0] else {
                throw FormatError(.malformed, "tensor '\(name)' shape \(shape) x \(dtype.size) bytes != \(offsets[1] - offsets[0]) bytes")
            }
            entries[name] = Entry(dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        // JSONSerialization keeps one of two equal keys: each tensor has one "data_offsets", so
        // more of those than tensors means a name appears twice (then find which, slowly).
        let text = String(decoding: data, as: UTF8.self)
        if text.components(separatedBy: "\"data_offsets\"").count - 1 > entries.count {
            let twice = entries.keys.sorted().first { text.components(separatedBy: "\"\($0)\"").count > 2 } ?? "?"
            throw FormatError(.malformed, "tensor '\(twice)' appears twice in the header")
        }
        let sorted = entries.sorted { $0.value.range.lowerBound < $1.value.range.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.value.range.upperBound > b.value.range.lowerBound {
            throw FormatError(.malformed, "tensors '\(a.key)' and '\(b.key)' overlap")
        }
        return (entries, metadata)
    }

    /// A tensor's raw bytes (for integer and boolean tensors such as masks).
    public func bytes(_ name: String) throws -> [UInt8] {
        guard let entry = entries[name] else { throw FormatError(.missingTensor, "missing tensor '\(name)'", path: path) }
        return Array(UnsafeRawBufferPointer(start: base + dataStart + entry.range.lowerBound, count: entry.range.count))
    }

    /// A tensor as float32.
    /// - Throws: ``FormatError`` for a missing name, an unexpected shape, or a non-float dtype.
    public func floats(_ name: String, shape expected: [Int]? = nil) throws -> Weight {
        guard let entry = entries[name] else { throw FormatError(.missingTensor, "missing tensor '\(name)'", path: path) }
        if let expected, expected != entry.shape {
            throw FormatError(.shapeMismatch, "tensor '\(name)' has shape \(entry.shape), the config needs \(expected)", path: path)
        }
        let start = base + dataStart + entry.range.lowerBound
        switch entry.dtype {
        case .f32:
            if Int(bitPattern: start) % MemoryLayout<Float>.alignment == 0 {
                return Weight(shape: entry.shape, pointer: start.assumingMemoryBound(to: Float.self), owner: self)
            }
            var copy = [Float](repeating: 0, count: entry.count)
            copy.withUnsafeMutableBytes { $0.copyMemory(from: UnsafeRawBufferPointer(start: start, count: entry.range.count)) }
            return Weight(shape: entry.shape, values: copy)
        case .f16:
            let values = (0..<entry.count).map { Float(Float16(bitPattern: start.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) }
            return Weight(shape: entry.shape, values: values)
        case .bf16:
            let values = (0..<entry.count).map { Float(bitPattern: UInt32(start.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self)) << 16) }
            return Weight(shape: entry.shape, values: values)
        case .f64:
            let values = (0..<entry.count).map { Float(start.loadUnaligned(fromByteOffset: 8 * $0, as: Double.self)) }
            return Weight(shape: entry.shape, values: values)
        default:
            throw FormatError(.wrongType, "tensor '\(name)' is \(entry.dtype.rawValue), not a float type", path: path)
        }
    }
}

/// A float32 weight: a pointer into a mapped file (kept alive by `owner`), or converted values it
/// owns.
public final class Weight: @unchecked Sendable {
    // @unchecked: immutable after init.
    public let shape: [Int]
    /// The values in place, for the numeric kernels (Models, Prior); other code takes copies
    /// through ``values(_:)`` and ``rows(_:)``.
    package let pointer: UnsafePointer<Float>
    private let owner: AnyObject?

    package init(shape: [Int], pointer: UnsafePointer<Float>, owner: AnyObject) {
        self.shape = shape
        self.pointer = pointer
        self.owner = owner
    }

    package init(shape: [Int], values: [Float]) {
        self.shape = shape
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, values.count))
        buffer.initialize(from: values, count: values.count)
        pointer = UnsafePointer(buffer)
        owner = nil
    }

    deinit { if owner == nil { UnsafeMutablePointer(mutating: pointer).deallocate() } }

    /// Whether the values are read in place from a mapped file (rather than owned).
    package var isMapped: Bool { owner != nil }

    public var count: Int { shape.reduce(1, *) }
    /// The values as an array (a copy).
    public var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// The flat values in `range` (a copy).
    public func values(_ range: Range<Int>) -> [Float] {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "values \(range) outside \(count)")
        return Array(UnsafeBufferPointer(start: pointer + range.lowerBound, count: range.count))
    }

    /// Rows `range` of the leading dimension (a copy); nil when they are outside the tensor.
    public func rows(_ range: Range<Int>) -> [Float]? {
        let width = shape.dropFirst().reduce(1, *)
        guard range.lowerBound >= 0, range.upperBound * width <= count else { return nil }
        return values((range.lowerBound * width)..<(range.upperBound * width))
    }
}
