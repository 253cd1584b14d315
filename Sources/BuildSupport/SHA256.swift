internal import CCrypto
import Foundation

/// SHA-256, streaming, over OpenSSL's EVP interface (its SHA-NI/AVX2 code paths). Used for
/// sample ids and for the size + digest recorded with every output file. The only file that
/// imports the OpenSSL C module.
public struct SHA256 {
    private final class Context {
        let pointer: OpaquePointer
        init() {
            guard let ctx = EVP_MD_CTX_new(), EVP_DigestInit_ex(ctx, EVP_sha256(), nil) == 1 else {
                preconditionFailure("OpenSSL cannot create a SHA-256 context")
            }
            pointer = ctx
        }
        deinit { EVP_MD_CTX_free(pointer) }
    }

    private let context = Context()

    /// A fresh hasher.
    public init() {}

    /// The digest of `bytes` as lowercase hex.
    public static func hex<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var h = SHA256()
        h.update(bytes)
        return h.finalize().hex
    }

    /// The digest of a file's contents as lowercase hex, read in 4 MiB chunks.
    /// - Throws: ``PipelineError`` `.io` when the file cannot be read.
    public static func hex(file path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw PipelineError(.io, "cannot open", file: path) }
        defer { try? handle.close() }
        var h = SHA256()
        while let chunk = try handle.read(upToCount: 4 << 20), !chunk.isEmpty { h.update(chunk) }
        return h.finalize().hex
    }

    /// Feeds bytes.
    public mutating func update<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        let done: Void? = bytes.withContiguousStorageIfAvailable { buffer in
            _ = EVP_DigestUpdate(context.pointer, buffer.baseAddress, buffer.count)
        }
        if done == nil {
            let copy = Array(bytes)
            copy.withUnsafeBufferPointer { _ = EVP_DigestUpdate(context.pointer, $0.baseAddress, $0.count) }
        }
    }

    /// Feeds the UTF-8 bytes of a string.
    public mutating func update(_ string: String) {
        var s = string
        s.withUTF8 { _ = EVP_DigestUpdate(context.pointer, $0.baseAddress, $0.count) }
    }

    /// Finishes and returns the 32-byte digest. The hasher must not be used afterwards.
    public mutating func finalize() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = out.withUnsafeMutableBufferPointer { EVP_DigestFinal_ex(context.pointer, $0.baseAddress, &length) }
        return Digest(bytes: out)
    }

    /// A finished digest.
    public struct Digest: Sendable, Equatable {
        /// The 32 digest bytes.
        public var bytes: [UInt8]
        /// Lowercase hex of all 32 bytes.
        public var hex: String { Self.hexString(bytes) }
        /// Lowercase hex of the first `count` bytes.
        public func hexPrefix(_ count: Int) -> String { Self.hexString(bytes.prefix(count)) }

        static func hexString<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
            let digits = Array("0123456789abcdef".utf8)
            var out = [UInt8]()
            out.reserveCapacity(bytes.count * 2)
            for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
