import Foundation
internal import CKernels

/// bfloat16: float32's sign, exponent and top 7 mantissa bits. Conversions round to nearest even.
public enum BF16 {
    /// Whether this CPU has AVX512-BF16 (a bfloat16 dot product in hardware).
    public static let hardwareSupport: Bool = ck_has_avx512_bf16() != 0

    /// `count` float32 values as bfloat16 bit patterns.
    public static func convert(_ x: UnsafePointer<Float>, count: Int, into out: UnsafeMutablePointer<UInt16>) {
        ck_f32_to_bf16(x, out, count)
    }

    /// `count` bfloat16 bit patterns widened to float32 (exact).
    public static func widen(_ x: UnsafePointer<UInt16>, count: Int, into out: UnsafeMutablePointer<Float>) {
        ck_bf16_to_f32(x, out, count)
    }

    /// Rounds float32 values to bfloat16 precision in place.
    public static func round(_ x: UnsafeMutablePointer<Float>, count: Int) {
        ck_round_bf16(x, count)
    }
}

extension LayerOps {
    /// A weight matrix `[outputs, inputs]` as the products read it.
    public enum Matrix: @unchecked Sendable {
        // @unchecked: the pointers are read-only weights that their owners keep alive.
        case f32(UnsafePointer<Float>)
        /// Held in bfloat16. Products round their input rows to bfloat16 and widen the weights
        /// block by block, then multiply in float32 with float32 accumulation: every product of
        /// two bfloat16 values is exact in float32, so the sums are those of a bfloat16 dot-product
        /// engine (AVX512-BF16's `vdpbf16ps`, oneDNN's bf16 matmul) up to the order of accumulation,
        /// at float32 speed.
        case bf16(UnsafePointer<UInt16>)
    }

    /// `c = x̃·W̃ᵀ + beta·c` where x̃ is `x` rounded to bfloat16 and W̃ the bfloat16 weights widened,
    /// a block of about 4 MB of weight rows at a time.
    static func bf16Product(_ x: [Float], rows: Int, inputs: Int, weight: UnsafePointer<UInt16>, outputs: Int,
                            beta: Float, into c: UnsafeMutablePointer<Float>) {
        var rounded = x
        rounded.withUnsafeMutableBufferPointer { BF16.round($0.baseAddress!, count: $0.count) }
        let block = min(outputs, max(64, (1 << 20) / max(1, inputs)))
        let widened = UnsafeMutablePointer<Float>.allocate(capacity: block * inputs)
        defer { widened.deallocate() }
        rounded.withUnsafeBufferPointer { xb in
            var start = 0
            while start < outputs {
                let n = min(block, outputs - start)
                BF16.widen(weight + start * inputs, count: n * inputs, into: widened)
                BLAS.gemm(m: rows, n: n, k: inputs, a: xb.baseAddress!, lda: inputs, transposeA: false,
                          b: widened, ldb: inputs, transposeB: true, beta: beta, c: c + start, ldc: outputs)
                start += n
            }
        }
    }
}
