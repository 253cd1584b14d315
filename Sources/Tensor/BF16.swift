import Foundation
internal import CKernels
internal import CMatrixEngine

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
        /// at float32 speed. The fallback where ``MatrixEngines/bf16`` is not oneDNN.
        case bf16(UnsafePointer<UInt16>)
        /// Reordered for oneDNN's matmul: bfloat16 weights (input rows rounded to bfloat16, float32
        /// accumulation and output) or float32 ones, bias and residual sums fused into the product.
        case engine(EngineWeights)

        /// Whether products with this matrix run on oneDNN's bf16 engine.
        public var isBF16Engine: Bool { if case .engine(let w) = self { !w.float32 } else { false } }
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

    /// `c = x̃·Wᵀ (+ bias) (+ c when accumulating)` on oneDNN, `x̃` being `x` rounded to bfloat16
    /// (or `x` itself for float32 weights).
    static func engineProduct(_ x: [Float], rows: Int, inputs: Int, weight: EngineWeights, bias: UnsafePointer<Float>?,
                              accumulate: Bool, into c: UnsafeMutablePointer<Float>) {
        if weight.float32 {
            x.withUnsafeBufferPointer { weight.multiply($0.baseAddress!, rows: rows, inputs: inputs, into: c, bias: bias, accumulate: accumulate) }
            return
        }
        let rounded = LayerOps.rounded(x, rows: rows, width: inputs)
        rounded.values.withUnsafeBufferPointer {
            weight.multiply($0.baseAddress!, rows: rows, inputs: inputs, into: c, bias: bias, accumulate: accumulate)
        }
    }

    /// Rows rounded to bfloat16 once, for the engine's products to read (several products of one
    /// input share the rounding).
    public struct BF16Rows: Sendable {
        public let values: [UInt16]
        public let rows: Int, width: Int
    }

    /// `x` [rows, width] rounded to bfloat16 (to nearest even).
    public static func rounded(_ x: [Float], rows: Int, width: Int) -> BF16Rows {
        precondition(x.count == rows * width, "rounded: \(x.count) values are not \(rows) x \(width)")
        let values = [UInt16](unsafeUninitializedCapacity: x.count) { b, n in
            x.withUnsafeBufferPointer { BF16.convert($0.baseAddress!, count: x.count, into: b.baseAddress!) }
            n = x.count
        }
        return BF16Rows(values: values, rows: rows, width: width)
    }

    /// `x·Wᵀ + b` on oneDNN, in float32.
    public static func linear(_ x: BF16Rows, weight: EngineWeights, bias: UnsafePointer<Float>?) -> [Float] {
        [Float](unsafeUninitializedCapacity: x.rows * weight.outputs) { out, count in
            x.values.withUnsafeBufferPointer {
                weight.multiply($0.baseAddress!, rows: x.rows, inputs: x.width, into: out.baseAddress!, bias: bias, accumulate: false)
            }
            count = x.rows * weight.outputs
        }
    }

    /// `x·Wᵀ + b` on oneDNN stored in bfloat16, for the next products to read (attention's q, k, v).
    public static func roundedLinear(_ x: BF16Rows, weight: EngineWeights, bias: UnsafePointer<Float>?) -> BF16Rows {
        let values = [UInt16](unsafeUninitializedCapacity: x.rows * weight.outputs) { out, count in
            x.values.withUnsafeBufferPointer {
                weight.multiply($0.baseAddress!, rows: x.rows, inputs: x.width, into: UnsafeMutableRawPointer(out.baseAddress!),
                                bias: bias, accumulate: false, bf16Output: true)
            }
            count = x.rows * weight.outputs
        }
        return BF16Rows(values: values, rows: x.rows, width: weight.outputs)
    }

    /// `act(x·Wᵀ + b)` stored in bfloat16 (an MLP's hidden layer): the product on oneDNN in
    /// float32, then the activation and the rounding in one pass on every core. (oneDNN's fused
    /// eltwise post-op measured 7 % slower on the product than this pass costs, 2026-12-08.)
    public static func activated(_ x: BF16Rows, weight: EngineWeights, bias: UnsafePointer<Float>?, activation: Activation) -> BF16Rows {
        let sums = linear(x, weight: weight, bias: bias)
        let kind: Int32 = switch activation { case .quickGELU: 0; case .gelu: 1; case .geluNew: 2; case .relu: 3 }
        let values = [UInt16](unsafeUninitializedCapacity: sums.count) { out, count in
            sums.withUnsafeBufferPointer { s in
                nonisolated(unsafe) let (from, to) = (s.baseAddress!, out.baseAddress!)
                parallelChunks(sums.count) { range in ck_activate_bf16(kind, from + range.lowerBound, to + range.lowerBound, range.count) }
            }
            count = sums.count
        }
        return BF16Rows(values: values, rows: x.rows, width: weight.outputs)
    }

    /// `x += y·Wᵀ + b` on oneDNN (the residual sum fused into the product).
    public static func addLinear(_ y: BF16Rows, weight: EngineWeights, bias: UnsafePointer<Float>?, into x: inout [Float]) {
        precondition(x.count == y.rows * weight.outputs, "addLinear shapes")
        x.withUnsafeMutableBufferPointer { xb in
            y.values.withUnsafeBufferPointer {
                weight.multiply($0.baseAddress!, rows: y.rows, inputs: y.width, into: xb.baseAddress!, bias: bias, accumulate: true)
            }
        }
    }

    /// `c = alpha·A·op(B)` for bfloat16 `A` [m, k] and `B` ([k, n], or stored [n, k] when
    /// transposed) on oneDNN, float32 `c` [m, n]: the attention products.
    static func bf16Product(_ a: UnsafePointer<UInt16>, lda: Int, _ b: UnsafePointer<UInt16>, ldb: Int, transposeB: Bool,
                            into c: UnsafeMutablePointer<Float>, ldc: Int, m: Int, n: Int, k: Int, alpha: Float) {
        let status = me_matmul_plain(a, Int64(lda), b, Int64(ldb), transposeB ? 1 : 0, c, Int64(ldc), Int64(m), Int64(n), Int64(k),
                                     alpha, Int32(max(1, BLAS.threadCount)))
        precondition(status == 0, "oneDNN bf16 matmul failed for \(m) x \(k) x \(n)")
    }
}

/// A weight matrix `[outputs, inputs]` in bfloat16 (or float32), reordered once into the layout
/// oneDNN's matmul prefers on this CPU.
public final class EngineWeights: @unchecked Sendable {
    // @unchecked: immutable after init; oneDNN's memory is read-only during products and freed in deinit.
    let handle: OpaquePointer
    public let outputs: Int, inputs: Int
    /// float32 weights, taking float32 inputs (else bfloat16 weights and inputs).
    public let float32: Bool

    /// Reorders `weight` ([outputs, inputs] bfloat16, row-major); throws where oneDNN cannot.
    public convenience init(bf16 weight: UnsafePointer<UInt16>, outputs: Int, inputs: Int) throws {
        try self.init(UnsafeRawPointer(weight), outputs: outputs, inputs: inputs, float32: false)
    }

    /// Reorders `weight` ([outputs, inputs] float32, row-major); throws where oneDNN cannot.
    public convenience init(f32 weight: UnsafePointer<Float>, outputs: Int, inputs: Int) throws {
        try self.init(UnsafeRawPointer(weight), outputs: outputs, inputs: inputs, float32: true)
    }

    init(_ weight: UnsafeRawPointer, outputs: Int, inputs: Int, float32: Bool) throws {
        var error = [CChar](repeating: 0, count: 256)
        guard let handle = me_weights_create(weight, Int64(outputs), Int64(inputs), float32 ? 1 : 0, &error, error.count) else {
            throw MatrixEngineError(message: MatrixEngines.text(error))
        }
        (self.handle, self.outputs, self.inputs, self.float32) = (handle, outputs, inputs, float32)
    }

    deinit { me_weights_free(handle) }

    /// Bytes the reordered weights take.
    public var bytes: Int { Int(me_weights_bytes(handle)) }

    /// `c = x·Wᵀ (+ bias) (+ c)` for rows `x` [rows, inputs] of the weights' type; `c` [rows,
    /// outputs] is float32, or bfloat16 with `bf16Output`.
    func multiply(_ x: UnsafeRawPointer, rows: Int, inputs: Int, into c: UnsafeMutableRawPointer, bias: UnsafePointer<Float>?,
                  accumulate: Bool, bf16Output: Bool = false) {
        precondition(inputs == self.inputs, "engine weights take \(self.inputs) inputs, not \(inputs)")
        let status = me_matmul(handle, x, Int64(rows), Int64(inputs), c, Int64(outputs), bias, accumulate ? 1 : 0,
                               bf16Output ? 1 : 0, Int32(max(1, BLAS.threadCount)))
        // A primitive for the weights' own layout exists for every row count (tested from 1 to
        // 300 rows and at the models' sizes); failing here means oneDNN itself is broken.
        precondition(status == 0, "oneDNN matmul failed for \(rows) x \(inputs) x \(outputs): \(MatrixEngines.lastImplementation)")
    }

    func multiply(_ x: UnsafeRawPointer, rows: Int, inputs: Int, into c: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?,
                  accumulate: Bool) {
        multiply(x, rows: rows, inputs: inputs, into: UnsafeMutableRawPointer(c), bias: bias, accumulate: accumulate)
    }
}

/// Why the bfloat16 engine could not take a matrix.
public struct MatrixEngineError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
