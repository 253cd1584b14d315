import Testing
@testable import Tensor

@Suite struct SafetensorsTests {
    @Test func roundTripWithMetadataAndAlignment() throws {
        let values: [Float] = [1, -2.5, 3e-8, .pi, 0, 1e30]
        let file = Safetensors.serialize([.init(name: "pixel_values", shape: [1, 2, 3], floats: values),
                                          .init(name: "ids", dtype: "U8", shape: [3], bytes: [7, 8, 9])],
                                         metadata: ["recipe": "clip", "note": "a \"quoted\"\nline"])
        let headerLength = file[0..<8].enumerated().reduce(0) { $0 | Int($1.element) << (8 * $1.offset) }
        #expect(headerLength % 8 == 0)
        let (tensors, metadata) = try Safetensors.read(file)
        #expect(metadata == ["recipe": "clip", "note": "a \"quoted\"\nline"])
        let pv = try #require(tensors["pixel_values"])
        #expect(pv.shape == [1, 2, 3] && pv.dtype == "F32")
        let decoded = pv.bytes.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        #expect(decoded == values)
        #expect(tensors["ids"]?.bytes == [7, 8, 9])
        #expect(throws: (any Error).self) { _ = try Safetensors.read(Array(file.prefix(20))) }
    }
}
