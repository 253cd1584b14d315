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

    /// Threads are chosen for a scope and restored after it, also when the scope throws.
    @Test func threadCountIsScoped() throws {
        let before = BLAS.threadCount, other = before == 1 ? 2 : 1
        #expect(BLAS.withThreads(other) { BLAS.threadCount } == other)
        #expect(BLAS.threadCount == before)
        struct Stop: Error {}
        #expect(throws: Stop.self) { try BLAS.withThreads(other) { throw Stop() } }
        #expect(BLAS.threadCount == before)
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

/// The activations (compiled per x86-64 level, chosen at load) against double-precision formulas.
@Suite struct ActivationTests {
    static func inputs() -> [Float] {
        // A spread over [-12, 12], the clamped extremes, and enough values (odd count) that the
        // work is split between cores.
        var values: [Float] = [-100, -88, -30, -12, -1e-8, 0, 1e-8, 12, 30, 88, 100]
        for i in 0..<70_001 { values.append(Float(i) / 70_000 * 24 - 12) }
        return values
    }

    static func check(_ activation: LayerOps.Activation, _ exact: (Double) -> Double) {
        let x = inputs()
        var y = x
        activation.apply(&y)
        var worst = 0.0
        for (v, got) in zip(x, y) {
            let want = exact(Double(v))
            worst = max(worst, abs(Double(got) - want) / max(1, abs(want)))
        }
        #expect(worst <= 2e-6, "\(activation): worst error \(worst)")
    }

    @Test func quickGELU() { Self.check(.quickGELU) { $0 / (1 + Foundation.exp(-1.702 * $0)) } }
    @Test func gelu() { Self.check(.gelu) { 0.5 * $0 * (1 + Foundation.erf($0 / 2.0.squareRoot())) } }
    @Test func geluNew() {
        Self.check(.geluNew) { 0.5 * $0 * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
    }
    @Test func relu() { Self.check(.relu) { max(0, $0) } }
}
