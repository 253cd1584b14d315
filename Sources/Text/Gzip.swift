import CZlib

/// gzip decompression (zlib's inflate), for vocabulary files shipped as `.gz`.
enum Gzip {
    /// The decompressed bytes of a whole gzip file.
    /// - Throws: ``TextError/badTokenizerFiles(_:)`` for data that is not gzip or is truncated.
    static func decompress(_ input: [UInt8], maxBytes: Int = 1 << 28) throws -> [UInt8] {
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw TextError.badTokenizerFiles("zlib cannot start")
        }
        defer { inflateEnd(&stream) }
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        var status: Int32 = Z_OK
        var input = input
        input.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = UInt32(source.count)
            repeat {
                chunk.withUnsafeMutableBufferPointer { buffer in
                    stream.next_out = buffer.baseAddress
                    stream.avail_out = UInt32(buffer.count)
                    status = inflate(&stream, Z_NO_FLUSH)
                    output += buffer[0..<(buffer.count - Int(stream.avail_out))]
                }
            } while status == Z_OK && output.count <= maxBytes
        }
        guard status == Z_STREAM_END else {
            throw TextError.badTokenizerFiles(output.count > maxBytes ? "gzip data larger than \(maxBytes) bytes"
                                              : "not gzip data, or truncated (zlib status \(status))")
        }
        return output
    }
}
