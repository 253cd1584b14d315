import Formats
import Foundation
@testable import Imaging
import Testing

/// The segment stage's post-processing against the Kosmos-G recipe run with torch and scipy
/// (`Fixtures/make_segment_fixtures.py`): bilinear upsampling, sigmoid, threshold, grey dilation by
/// a hundredth of each side, the largest 4-connected component, the mean probability inside.
@Suite struct SegmentMaskTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path

    @Test func masksEqualTorchAndScipy() throws {
        let file = try SafetensorsFile(path: Self.fixtures + "/segment_cases.safetensors")
        let meta = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: Self.fixtures + "/segment_cases.json"))) as? [[String: Any]])
        #expect(meta.count == 6)
        for (i, c) in meta.enumerated() {
            let logits = try file.floats("logits_\(i)")
            let expected = try file.bytes("mask_\(i)")
            let (width, height) = (c["width"] as! Int, c["height"] as! Int)
            let settings = SegmentMask.Settings(threshold: Float(c["threshold"] as! Double))
            let (mask, score) = SegmentMask.mask(logits: logits.array, width: logits.shape[1], height: logits.shape[0],
                                                 imageWidth: width, imageHeight: height, settings: settings)
            let differing = zip(mask.bits, expected).filter { $0 != $1 }.count
            #expect(differing == 0, "case \(i): \(differing) pixels differ of \(expected.count)")
            #expect(mask.bits.reduce(0) { $0 + Int($1) } == c["area"] as! Int)
            #expect(abs(score - (c["score"] as! Double)) < 1e-5, "case \(i): score \(score) vs \(c["score"]!)")
        }
    }

    @Test func dilationWindowsFollowScipy() {
        // scipy.ndimage.grey_dilation of a single pixel at 4 of 9 with size k covers [4 - (k-1)/2, 4 + k/2].
        for (k, expected) in [(1, [4]), (2, [3, 4]), (3, [3, 4, 5]), (4, [2, 3, 4, 5]), (5, [2, 3, 4, 5, 6])] {
            var bits = [UInt8](repeating: 0, count: 9)
            bits[4] = 1
            let out = SegmentMask.dilated(bits, width: 9, height: 1, size: (k, 1))
            #expect(out.indices.filter { out[$0] != 0 } == expected, "size \(k)")
        }
    }

    @Test func theLargestComponentIsKeptAndTiesGoToTheFirst() {
        // scipy.ndimage.label([[1,1,0,0],[0,0,0,1],[1,0,1,1]]) numbers three 4-connected parts.
        let bits: [UInt8] = [1, 1, 0, 0, 0, 0, 0, 1, 1, 0, 1, 1]
        #expect(SegmentMask.largestComponent(bits, width: 4, height: 3) == [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1])
        let tie: [UInt8] = [1, 0, 1]
        #expect(SegmentMask.largestComponent(tie, width: 3, height: 1) == [1, 0, 0])
        #expect(SegmentMask.largestComponent([0, 0], width: 2, height: 1) == [0, 0])
    }
}
