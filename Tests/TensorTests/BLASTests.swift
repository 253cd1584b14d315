import Foundation
import Testing
@testable import Tensor

@Suite struct BLASTests {
    @Test func matmulMatchesNaiveProduct() {
        var state: UInt64 = 42
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int(state >> 40) % 2001 - 1000) / 1000
        }
        let (m, k, n) = (7, 13, 5)
        let a = Tensor(shape: [m, k], scalars: (0..<(m * k)).map { _ in next() })
        let b = Tensor(shape: [k, n], scalars: (0..<(k * n)).map { _ in next() })
        let c = a.matmul(b)
        #expect(c.shape == [m, n])
        for i in 0..<m {
            for j in 0..<n {
                var expected: Double = 0
                for p in 0..<k { expected += Double(a.scalars[i * k + p]) * Double(b.scalars[p * n + j]) }
                #expect(abs(Double(c.scalars[i * n + j]) - expected) <= 1e-5 * max(1, abs(expected)))
            }
        }
    }

    @Test func threadCountIsSettable() {
        BLAS.setThreadCount(1)
        #expect(BLAS.threadCount == 1)
    }

    /// A batch splits into one contiguous, covering group per core only when the groups come
    /// out even enough; `eachGroup` returns results in group order and passes errors on.
    @Test func batchGroupsCoverTheBatchInOrder() throws {
        #expect(LayerOps.batchGroups(16, threads: 1) == nil)
        #expect(LayerOps.batchGroups(1, threads: 2) == nil)
        if ProcessInfo.processInfo.activeProcessorCount >= 2 {
            #expect(LayerOps.batchGroups(16, threads: 2) == [0..<8, 8..<16])
            #expect(LayerOps.batchGroups(2, threads: 2) == [0..<1, 1..<2])
            #expect(LayerOps.batchGroups(3, threads: 2) == nil) // 2 + 1: one threaded pass is faster
            #expect(LayerOps.batchGroups(5, threads: 2) == [0..<2, 2..<5])
        }
        let groups = [0..<3, 3..<5, 5..<9]
        #expect(try LayerOps.eachGroup(groups) { $0.map { $0 * 2 } } == [[0, 2, 4], [6, 8], [10, 12, 14, 16]])
        struct Refused: Error {}
        #expect(throws: Refused.self) { try LayerOps.eachGroup(groups) { r -> Int in if r.lowerBound == 3 { throw Refused() }; return 0 } }
    }
}
