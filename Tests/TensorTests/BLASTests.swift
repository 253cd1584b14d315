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
}
