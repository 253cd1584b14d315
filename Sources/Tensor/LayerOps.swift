import Foundation

/// The transformer building blocks over row-major float32 matrices (`rows x width`), each a
/// straight loop or one sgemm. Weights are raw pointers so memory-mapped checkpoints need no copy.
public enum LayerOps {
    /// `y = x·Wᵀ + b` for `x` [rows, inputs], `W` [outputs, inputs] (PyTorch's Linear layout).
    public static func linear(_ x: [Float], rows: Int, inputs: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                              outputs: Int) -> [Float] {
        precondition(x.count == rows * inputs, "linear input \(x.count) != \(rows) x \(inputs)")
        return [Float](unsafeUninitializedCapacity: rows * outputs) { out, count in
            let o = out.baseAddress!
            if let bias {
                for r in 0..<rows { (o + r * outputs).update(from: bias, count: outputs) }
            }
            x.withUnsafeBufferPointer { xb in
                BLAS.gemm(m: rows, n: outputs, k: inputs, a: xb.baseAddress!, lda: inputs, transposeA: false,
                          b: weight, ldb: inputs, transposeB: true, beta: bias == nil ? 0 : 1, c: o, ldc: outputs)
            }
            count = rows * outputs
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

    /// Layer normalisation of each row (biased variance, as PyTorch), in place.
    public static func layerNorm(_ x: inout [Float], width: Int, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                                 eps: Float) {
        let rows = x.count / width
        x.withUnsafeMutableBufferPointer { buffer in
            layerNorm(buffer.baseAddress!, rows: rows, width: width, weight: weight, bias: bias, eps: eps, into: buffer.baseAddress!)
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
                var mean: Double = 0
                for i in 0..<width { mean += Double(row[i]) }
                mean /= Double(width)
                var variance: Double = 0
                for i in 0..<width { let d = Double(row[i]) - mean; variance += d * d }
                variance /= Double(width)
                let m = Float(mean), inv = Float(1 / (variance + Double(eps)).squareRoot())
                rstd?[r] = inv
                let kept = xhat.map { $0 + r * width }
                for i in 0..<width {
                    let n = (row[i] - m) * inv
                    kept?[i] = n
                    out[i] = n * weight[i] + bias[i]
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
                switch kind {
                case .gelu:
                    for i in b.indices { let v = b[i]; b[i] = 0.5 * v * (1 + erff(v * 0.70710678118654752)) }
                case .quickGELU:
                    for i in b.indices { let v = b[i]; b[i] = v / (1 + expf(-1.702 * v)) }
                case .geluNew:
                    for i in b.indices {
                        let v = b[i]
                        b[i] = 0.5 * v * (1 + tanhf(0.79788456080286536 * (v + 0.044715 * v * v * v)))
                    }
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
    /// - Returns: [batch·tokens, heads·headDim].
    public static func attention(q: [Float], k: [Float], v: [Float], batch: Int, tokens: Int, heads: Int, headDim: Int,
                                 causal: Bool, keyMask: [Bool]?) -> [Float] {
        let width = heads * headDim
        precondition(q.count == batch * tokens * width && k.count == q.count && v.count == q.count, "attention shapes")
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
                            for i in 0..<tokens {
                                let row = s + i * tokens
                                var maximum = -Float.infinity
                                for j in 0..<tokens {
                                    let allowed = (!causal || j <= i) && (keyMask?[b * tokens + j] ?? true)
                                    if !allowed { row[j] = -.infinity } else { maximum = max(maximum, row[j]) }
                                }
                                // A query with no allowed key (a fully padded row) attends to nothing.
                                guard maximum > -.infinity else { for j in 0..<tokens { row[j] = 0 }; continue }
                                var sum: Float = 0
                                for j in 0..<tokens { let e = expf(row[j] - maximum); row[j] = e; sum += e }
                                let inv = 1 / sum
                                for j in 0..<tokens { row[j] *= inv }
                            }
                            BLAS.gemm(m: tokens, n: headDim, k: tokens, a: s, lda: tokens, transposeA: false,
                                      b: vp + offset, ldb: width, transposeB: false, beta: 0, c: op + offset, ldc: width)
                        }
                    }
                }
            }
        }
        return out
    }

    /// `x += y` elementwise.
    public static func add(_ x: inout [Float], _ y: [Float]) {
        precondition(x.count == y.count, "add shapes")
        x.withUnsafeMutableBufferPointer { xb in y.withUnsafeBufferPointer { yb in for i in xb.indices { xb[i] += yb[i] } } }
    }
}
