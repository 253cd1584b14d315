import Foundation
internal import CKernels

/// The transformer building blocks over row-major float32 matrices (`rows x width`), each a
/// straight loop or one sgemm. Weights are raw pointers so memory-mapped checkpoints need no copy.
public enum LayerOps {
    /// `y = x·Wᵀ + b` for `x` [rows, inputs], `W` [outputs, inputs] (PyTorch's Linear layout).
    public static func linear(_ x: [Float], rows: Int, inputs: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              outputs: Int) -> [Float] {
        linear(x, rows: rows, inputs: inputs, weight: .f32(weight), bias: bias, outputs: outputs)
    }

    /// `y = x·Wᵀ + b` with `W` held in either precision.
    public static func linear(_ x: [Float], rows: Int, inputs: Int, weight: Matrix, bias: UnsafePointer<Float>?,
                              outputs: Int) -> [Float] {
        precondition(x.count == rows * inputs, "linear input \(x.count) != \(rows) x \(inputs)")
        return [Float](unsafeUninitializedCapacity: rows * outputs) { out, count in
            product(x, rows: rows, inputs: inputs, weight: weight, outputs: outputs, bias: bias, accumulate: false, into: out.baseAddress!)
            count = rows * outputs
        }
    }

    /// `x += y·Wᵀ + b` for `y` [rows, inputs], `x` [rows, outputs]: the residual connection after a
    /// projection, with the bias added to `x` and the product accumulated into it by sgemm.
    public static func addLinear(_ y: [Float], rows: Int, inputs: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                 outputs: Int, into x: inout [Float]) {
        addLinear(y, rows: rows, inputs: inputs, weight: .f32(weight), bias: bias, outputs: outputs, into: &x)
    }

    /// `x += y·Wᵀ + b` with `W` held in either precision.
    public static func addLinear(_ y: [Float], rows: Int, inputs: Int, weight: Matrix, bias: UnsafePointer<Float>?,
                                 outputs: Int, into x: inout [Float]) {
        precondition(y.count == rows * inputs && x.count == rows * outputs, "addLinear shapes")
        x.withUnsafeMutableBufferPointer { xb in
            product(y, rows: rows, inputs: inputs, weight: weight, outputs: outputs, bias: bias, accumulate: true, into: xb.baseAddress!)
        }
    }

    /// `c = x·Wᵀ (+ b) (+ c when accumulating)` (row-major, `c` [rows, outputs]; uninitialised
    /// memory when not accumulating). oneDNN fuses the bias and the sum into its product; for the
    /// sgemm paths the bias is written (or added) first and sgemm accumulates onto it.
    static func product(_ x: [Float], rows: Int, inputs: Int, weight: Matrix, outputs: Int, bias: UnsafePointer<Float>?,
                        accumulate: Bool, into c: UnsafeMutablePointer<Float>) {
        if case .engine(let w) = weight {
            engineProduct(x, rows: rows, inputs: inputs, weight: w, bias: bias, accumulate: accumulate, into: c)
            return
        }
        if let bias {
            for r in 0..<rows {
                let row = c + r * outputs
                if accumulate { for j in 0..<outputs { row[j] += bias[j] } } else { row.update(from: bias, count: outputs) }
            }
        }
        let beta: Float = accumulate || bias != nil ? 1 : 0
        switch weight {
        case .f32(let w):
            x.withUnsafeBufferPointer { xb in
                BLAS.gemm(m: rows, n: outputs, k: inputs, a: xb.baseAddress!, lda: inputs, transposeA: false,
                          b: w, ldb: inputs, transposeB: true, beta: beta, c: c, ldc: outputs)
            }
        case .bf16(let w):
            bf16Product(x, rows: rows, inputs: inputs, weight: w, outputs: outputs, beta: beta, into: c)
        case .engine:
            break
        }
    }

    /// Splits `count` items into contiguous chunks run on every core (as many as BLAS threads),
    /// for elementwise work large enough to pay for it.
    package static func parallelChunks(_ count: Int, minimum: Int = 65_536, _ body: (Range<Int>) -> Void) {
        let workers = min(max(1, BLAS.threadCount), ProcessInfo.processInfo.activeProcessorCount)
        guard workers > 1, count >= minimum else { body(0..<count); return }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: workers) { k in
                body((count * k / workers)..<(count * (k + 1) / workers))
            }
        }
    }

    /// For a batch of independent rows (sequences, images) and several BLAS threads: one
    /// contiguous group of the batch per core when the batch divides evenly enough (at least two
    /// rows per group, or an equal number); nil when one threaded pass is the better choice.
    public static func batchGroups(_ batch: Int, threads: Int = BLAS.threadCount) -> [Range<Int>]? {
        let workers = min(threads, ProcessInfo.processInfo.activeProcessorCount, batch)
        guard workers > 1, batch % workers == 0 || batch >= 2 * workers else { return nil }
        return (0..<workers).map { k in (batch * k / workers)..<(batch * (k + 1) / workers) }
    }

    /// Runs `body` for every group at once, one thread each with single-threaded BLAS, and
    /// returns the results in group order (the first error thrown, if any). Each group does its
    /// whole forward pass on its own core: no hand-off between threads per matrix product or per
    /// elementwise pass, and each core keeps its group's activations in its own cache.
    public static func eachGroup<R>(_ groups: [Range<Int>], _ body: (Range<Int>) throws -> R) throws -> [R] {
        let saved = BLAS.threadCount
        BLAS.setThreadCount(1)
        defer { BLAS.setThreadCount(saved) }
        let results = UnsafeMutableBufferPointer<Result<R, any Error>?>.allocate(capacity: groups.count)
        results.initialize(repeating: nil)
        defer { results.deinitialize(); results.deallocate() }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let (body, results) = (body, results)
            DispatchQueue.concurrentPerform(iterations: groups.count) { k in
                results[k] = Result { try body(groups[k]) }
            }
        }
        return try results.map { try $0!.get() }
    }

    /// Layer normalisation of each row (biased variance, as PyTorch), in place.
    public static func layerNorm(_ x: inout [Float], width: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                 eps: Float) {
        let rows = x.count / width
        x.withUnsafeMutableBufferPointer { buffer in
            layerNorm(buffer.baseAddress!, rows: rows, width: width, weight: weight, bias: bias, eps: eps, into: buffer.baseAddress!)
        }
    }

    /// Layer normalisation of each row into a new array.
    public static func layerNormed(_ x: [Float], width: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                   eps: Float) -> [Float] {
        guard !x.isEmpty else { return [] }
        return [Float](unsafeUninitializedCapacity: x.count) { out, count in
            x.withUnsafeBufferPointer { xb in
                layerNorm(xb.baseAddress!, rows: x.count / width, width: width, weight: weight, bias: bias, eps: eps, into: out.baseAddress!)
            }
            count = x.count
        }
    }

    /// Layer normalisation of `rows` rows of `x` into `y` (which may be `x`), on every core; with
    /// `xhat` and `rstd`, also keeps each row normalised and its reciprocal deviation (what a
    /// backward pass needs).
    package static func layerNorm(_ x: UnsafePointer<Float>, rows: Int, width: Int, weight: UnsafePointer<Float>,
                                  bias: UnsafePointer<Float>, eps: Float, into y: UnsafeMutablePointer<Float>,
                                  xhat: UnsafeMutablePointer<Float>? = nil, rstd: UnsafeMutablePointer<Float>? = nil) {
        nonisolated(unsafe) let (x, weight, bias, y, xhat, rstd) = (x, weight, bias, y, xhat, rstd)
        parallelChunks(rows, minimum: 64) { range in
            for r in range {
                let row = x + r * width, out = y + r * width
                let body = width & ~7
                let m: Float, inv: Float
                if xhat != nil {
                    // Training (the prior): statistics in double, which finite-difference checks of
                    // the gradients need.
                    var mean: Double = 0
                    for i in 0..<width { mean += Double(row[i]) }
                    mean /= Double(width)
                    var variance: Double = 0
                    for i in 0..<width { let d = Double(row[i]) - mean; variance += d * d }
                    variance /= Double(width)
                    m = Float(mean)
                    inv = Float(1 / (variance + Double(eps)).squareRoot())
                } else {
                    // Inference: eight running float sums per pass (as PyTorch), then the tail.
                    var sum8 = SIMD8<Float>(repeating: 0)
                    for i in stride(from: 0, to: body, by: 8) { sum8 += UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) }
                    var sum = sum8.sum()
                    for i in body..<width { sum += row[i] }
                    m = sum / Float(width)
                    var sq8 = SIMD8<Float>(repeating: 0)
                    for i in stride(from: 0, to: body, by: 8) {
                        let d = UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - m
                        sq8 += d * d
                    }
                    var sq = sq8.sum()
                    for i in body..<width { let d = row[i] - m; sq += d * d }
                    inv = 1 / (sq / Float(width) + eps).squareRoot()
                }
                rstd?[r] = inv
                if let xhat {
                    let kept = xhat + r * width
                    for i in 0..<width {
                        let n = (row[i] - m) * inv
                        kept[i] = n
                        out[i] = n * weight[i] + bias[i]
                    }
                } else {
                    for i in stride(from: 0, to: body, by: 8) {
                        let v = (UnsafeRawPointer(row + i).loadUnaligned(as: SIMD8<Float>.self) - m) * inv
                        let w = UnsafeRawPointer(weight + i).loadUnaligned(as: SIMD8<Float>.self)
                        let b = UnsafeRawPointer(bias + i).loadUnaligned(as: SIMD8<Float>.self)
                        UnsafeMutableRawPointer(out + i).storeBytes(of: v * w + b, as: SIMD8<Float>.self)
                    }
                    for i in body..<width { out[i] = (row[i] - m) * inv * weight[i] + bias[i] }
                }
            }
        }
    }

    /// Runs `body(pair, scratch)` for every (sequence, head) pair on every core, with
    /// single-threaded BLAS inside (each pair's products are small); `scratch` holds
    /// `scratchCount` floats per worker. Each pair must write disjoint memory.
    package static func forEachPair(_ pairs: Int, scratchCount: Int = 0, _ body: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let workers = max(1, min(pairs, ProcessInfo.processInfo.activeProcessorCount, max(1, BLAS.threadCount)))
        let saved = BLAS.threadCount
        if workers > 1 { BLAS.setThreadCount(1) }
        defer { if workers > 1 { BLAS.setThreadCount(saved) } }
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let body = body
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(1, scratchCount))
                defer { scratch.deallocate() }
                for pair in stride(from: worker, to: pairs, by: workers) { body(pair, scratch) }
            }
        }
    }

    /// The activations the supported models use, by their Hugging Face `hidden_act` names.
    public enum Activation: String, Sendable {
        case gelu, quickGELU = "quick_gelu", geluNew = "gelu_new", relu

        /// Applies the activation in place.
        public func apply(_ x: inout [Float]) {
            let kind = self
            x.withUnsafeMutableBufferPointer { whole in
                nonisolated(unsafe) let base = whole.baseAddress!
                LayerOps.parallelChunks(whole.count) { range in
                let b = UnsafeMutableBufferPointer(rebasing: UnsafeMutableBufferPointer(start: base, count: whole.count)[range])
                let p = b.baseAddress!, n = b.count
                switch kind {
                case .gelu: ck_gelu(p, n)
                case .quickGELU: ck_quick_gelu(p, n)
                case .geluNew: ck_gelu_new(p, n)
                case .relu:
                    for i in b.indices { b[i] = max(0, b[i]) }
                }
                }
            }
        }
    }

    /// Multi-head scaled dot-product attention over a batch of sequences.
    /// - Parameters:
    ///   - q, k, v: [batch·tokens, heads·headDim], heads packed side by side.
    ///   - keyMask: per batch and token, whether the key may be attended to (nil: all).
    ///   - causal: each query sees only keys at or before its position.
    ///   - bf16: both products on oneDNN's bf16 matmul (q, k, v rounded to bfloat16; see the
    ///     overload on rounded rows).
    /// - Returns: [batch·tokens, heads·headDim].
    public static func attention(q: [Float], k: [Float], v: [Float], batch: Int, tokens: Int, heads: Int, headDim: Int,
                                 causal: Bool, keyMask: [Bool]?, bf16: Bool = false) -> [Float] {
        let width = heads * headDim
        precondition(q.count == batch * tokens * width && k.count == q.count && v.count == q.count, "attention shapes")
        if bf16 {
            let rows = batch * tokens
            return attention(q: rounded(q, rows: rows, width: width), k: rounded(k, rows: rows, width: width),
                             v: rounded(v, rows: rows, width: width), batch: batch, tokens: tokens, heads: heads, headDim: headDim,
                             causal: causal, keyMask: keyMask)
        }
        precondition(keyMask == nil || keyMask!.count == batch * tokens, "key mask shape")
        var out = [Float](repeating: 0, count: q.count)
        let scale = 1 / Float(headDim).squareRoot()
        // Each (sequence, head) pair is two small sgemms: run the pairs on every core with
        // single-threaded BLAS rather than threading each tiny call.
        q.withUnsafeBufferPointer { qb in
            k.withUnsafeBufferPointer { kb in
                v.withUnsafeBufferPointer { vb in
                    out.withUnsafeMutableBufferPointer { ob in
                        nonisolated(unsafe) let (qp, kp, vp, op) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, ob.baseAddress!)
                        forEachPair(batch * heads, scratchCount: tokens * tokens) { pair, s in
                            let b = pair / heads, h = pair % heads
                            let offset = b * tokens * width + h * headDim
                            BLAS.gemm(m: tokens, n: tokens, k: headDim, alpha: scale, a: qp + offset, lda: width,
                                      transposeA: false, b: kp + offset, ldb: width, transposeB: true, beta: 0, c: s, ldc: tokens)
                            softmaxRows(s, tokens: tokens, sequence: b, causal: causal, keyMask: keyMask)
                            BLAS.gemm(m: tokens, n: headDim, k: tokens, a: s, lda: tokens, transposeA: false,
                                      b: vp + offset, ldb: width, transposeB: false, beta: 0, c: op + offset, ldc: width)
                        }
                    }
                }
            }
        }
        return out
    }

    /// Attention on bfloat16 q, k, v: both products on oneDNN's bf16 matmul (float32 accumulation),
    /// the softmax in float32 and the probabilities rounded to bfloat16 for the second product.
    public static func attention(q: BF16Rows, k: BF16Rows, v: BF16Rows, batch: Int, tokens: Int, heads: Int, headDim: Int,
                                 causal: Bool, keyMask: [Bool]?) -> [Float] {
        let width = heads * headDim
        precondition(q.rows == batch * tokens && q.width == width && k.rows == q.rows && k.width == width
                     && v.rows == q.rows && v.width == width, "attention shapes")
        precondition(keyMask == nil || keyMask!.count == batch * tokens, "key mask shape")
        let scale = 1 / Float(headDim).squareRoot()
        let mask = keyMask.map { $0.map { UInt8($0 ? 1 : 0) } }
        // The scratch holds the scores, then the probabilities in bfloat16 after them; the softmax
        // and its rounding are one C pass per row (AVX-512 where the CPU has it).
        return [Float](unsafeUninitializedCapacity: q.values.count) { ob, count in
            q.values.withUnsafeBufferPointer { qb in
                k.values.withUnsafeBufferPointer { kb in
                    v.values.withUnsafeBufferPointer { vb in
                        (mask ?? []).withUnsafeBufferPointer { mb in
                            nonisolated(unsafe) let (qp, kp, vp, op) = (qb.baseAddress!, kb.baseAddress!, vb.baseAddress!, ob.baseAddress!)
                            nonisolated(unsafe) let keys = mask == nil ? nil : mb.baseAddress
                            forEachPair(batch * heads, scratchCount: tokens * tokens * 2) { pair, s in
                                let b = pair / heads, h = pair % heads
                                let offset = b * tokens * width + h * headDim
                                bf16Product(qp + offset, lda: width, kp + offset, ldb: width, transposeB: true,
                                            into: s, ldc: tokens, m: tokens, n: tokens, k: headDim, alpha: scale)
                                let p = UnsafeMutableRawPointer(s + tokens * tokens).assumingMemoryBound(to: UInt16.self)
                                for i in 0..<tokens {
                                    ck_softmax_bf16(s + i * tokens, p + i * tokens, tokens, causal ? i + 1 : tokens, keys.map { $0 + b * tokens })
                                }
                                bf16Product(p, lda: tokens, vp + offset, ldb: width, transposeB: false,
                                            into: op + offset, ldc: width, m: tokens, n: headDim, k: tokens, alpha: 1)
                            }
                        }
                    }
                }
            }
            count = q.values.count
        }
    }

    /// The softmax of each row of one (sequence, head) pair's scores [tokens, tokens], in place,
    /// masked keys weighing exactly nothing.
    static func softmaxRows(_ s: UnsafeMutablePointer<Float>, tokens: Int, sequence b: Int, causal: Bool, keyMask: [Bool]?) {
        let masked = causal || keyMask != nil
        for i in 0..<tokens {
            let row = s + i * tokens
            var maximum = -Float.infinity
            for j in 0..<tokens {
                let allowed = (!causal || j <= i) && (keyMask?[b * tokens + j] ?? true)
                if !allowed { row[j] = -.infinity } else { maximum = max(maximum, row[j]) }
            }
            // A query with no allowed key (a fully padded row) attends to nothing.
            guard maximum > -.infinity else { for j in 0..<tokens { row[j] = 0 }; continue }
            var sum = VectorMath.expShifted(row, count: tokens, shift: maximum)
            if masked {
                // Masked keys (−∞) must weigh exactly nothing, not e^(−87).
                sum = 0
                for j in 0..<tokens {
                    if (causal && j > i) || !(keyMask?[b * tokens + j] ?? true) { row[j] = 0 }
                    sum += row[j]
                }
            }
            let inv = 1 / sum
            for j in 0..<tokens { row[j] *= inv }
        }
    }

    /// `x += y` elementwise.
    public static func add(_ x: inout [Float], _ y: [Float]) {
        precondition(x.count == y.count, "add shapes")
        x.withUnsafeMutableBufferPointer { xb in y.withUnsafeBufferPointer { yb in for i in xb.indices { xb[i] += yb[i] } } }
    }
}
