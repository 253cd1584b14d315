internal import COpenBLAS

/// The OpenBLAS calls the project uses. The only file that imports the BLAS C module.
public enum BLAS {
    /// `C = A·B + beta·C` in row-major float32 (`A` is m×k, `B` k×n, `C` m×n, each optionally
    /// transposed as stored).
    public static func gemm(m: Int, n: Int, k: Int, a: [Float], transposeA: Bool, b: [Float], transposeB: Bool,
                            c: UnsafeMutablePointer<Float>, beta: Float) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), 1, a, blasint(transposeA ? m : k),
                    b, blasint(transposeB ? k : n), beta, c, blasint(n))
    }

    /// `C = alpha·op(A)·op(B) + beta·C` on raw row-major storage with explicit leading
    /// dimensions (for strided views such as one attention head of a packed matrix).
    public static func gemm(m: Int, n: Int, k: Int, alpha: Float = 1, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                            b: UnsafePointer<Float>, ldb: Int, transposeB: Bool, beta: Float,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// Runs `body` with `count` OpenBLAS threads and restores the count it found: the way callers
    /// choose BLAS threading (a scope around the work, never a lasting process-wide change).
    public static func withThreads<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        let saved = threadCount
        setThreadCount(count)
        defer { setThreadCount(saved) }
        return try body()
    }

    /// Sets the number of OpenBLAS threads; outside this module, ``withThreads(_:_:)``.
    static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The OpenBLAS kernel family in use (e.g. "Haswell", "SkylakeX"; OPENBLAS_CORETYPE chooses it).
    public static var core: String { String(cString: openblas_get_corename()) }

    /// The number of threads OpenBLAS currently uses.
    public static var threadCount: Int { Int(openblas_get_num_threads()) }
}
