/// A dense float32 tensor: flat row-major scalars with a shape.
public struct Tensor: Sendable, Equatable {
    /// Dimensions, outermost first.
    public var shape: [Int]
    /// `shape.reduce(1, *)` scalars in row-major order.
    public var scalars: [Float]

    /// Wraps scalars with a shape.
    public init(shape: [Int], scalars: [Float]) {
        precondition(shape.reduce(1, *) == scalars.count, "shape \(shape) does not match \(scalars.count) scalars")
        self.shape = shape
        self.scalars = scalars
    }

    /// A tensor of zeros.
    public init(zeros shape: [Int]) {
        self.init(shape: shape, scalars: [Float](repeating: 0, count: shape.reduce(1, *)))
    }

    /// Matrix product of two rank-2 tensors, `[m, k] x [k, n] -> [m, n]`, via OpenBLAS sgemm.
    /// - Complexity: O(m·k·n).
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(shape.count == 2 && other.shape.count == 2 && shape[1] == other.shape[0],
                     "matmul shapes \(shape) x \(other.shape)")
        let (m, k, n) = (shape[0], shape[1], other.shape[1])
        let out = [Float](unsafeUninitializedCapacity: m * n) { buffer, count in
            BLAS.gemm(m: m, n: n, k: k, a: scalars, transposeA: false, b: other.scalars, transposeB: false,
                      c: buffer.baseAddress!, beta: 0)
            count = m * n
        }
        return Tensor(shape: [m, n], scalars: out)
    }
}
