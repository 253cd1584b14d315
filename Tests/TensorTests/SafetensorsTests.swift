import Formats
import Testing
@testable import Tensor

@Suite struct SafetensorsTests {
    @Test func roundTripWithMetadataAndAlignment() throws {
        let values: [Float] = [1, -2.5, 3e-8, .pi, 0, 1e30]
        let file = Safetensors.serialize([.init(name: "pixel_values", shape: [1, 2, 3], floats: values),
                                          .init(name: "ids", dtype: .u8, shape: [3], bytes: [7, 8, 9])],
                                         metadata: ["recipe": "clip", "note": "a \"quoted\"\nline"])
        let headerLength = file[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        let (tensors, metadata) = try Safetensors.read(file)
        #expect(metadata == ["recipe": "clip", "note": "a \"quoted\"\nline"])
        let pv = try #require(tensors["pixel_values"])
        #expect(pv.shape == [1, 2, 3] && pv.dtype == .f32)
        let decoded = pv.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(decoded == values)
        #expect(tensors["ids"]?.bytes == [7, 8, 9])
        #expect(throws: (any Error).self) { _ = try Safetensors.read(Array(file.prefix(20))) }
    }

    /// Lengths and offsets near Int.max trapped on overflow (found by the fuzz harness; the first
    /// input is fuzz/regressions/safetensors-huge-header-length.bin): they are errors now.
    @Test func hugeLengthsAndOffsetsAreErrorsNotTraps() throws {
        #expect(throws: (any Error).self) { _ = try Safetensors.read([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0x7F]) }
        let header = Array(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,9223372036854775807]}}"#.utf8)
        let length = (0..<8).map { UInt8((header.count >> (8 * $0)) & 0xFF) }
        #expect(throws: (any Error).self) { _ = try Safetensors.read(length + header + [0, 0, 0, 0]) }
        let negative = Array(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}"#.utf8)
        let negativeLength = (0..<8).map { UInt8((negative.count >> (8 * $0)) & 0xFF) }
        #expect(throws: (any Error).self) { _ = try Safetensors.read(negativeLength + negative + [0, 0, 0, 0]) }
    }
}
