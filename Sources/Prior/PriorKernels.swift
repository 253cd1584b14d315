import Foundation
import Tensor

/// The forward and backward kernels of the prior: sgemm for every product, straight loops for the
/// rest. Pointers are raw so parameter, gradient and activation buffers need no copies.
enum PriorKernels {
    typealias In = UnsafePointer<Float>
    typealias Out = UnsafeMutablePointer<Float>

    /// `y[rows, outputs] = x[rows, inputs]·Wᵀ + b`, rows of `x` `ldx` apart and of `y` `ldy` apart.
    static func linear(_ x: In, rows: Int, inputs: Int, ldx: Int, weight: In, bias: In, outputs: Int, into y: Out, ldy: Int) {
        for r in 0..<rows { (y + r * ldy).update(from: bias, count: outputs) }
        BLAS.gemm(m: rows, n: outputs, k: inputs, a: x, lda: ldx, transposeA: false, b: weight, ldb: inputs, transposeB: true,
                  beta: 1, c: y, ldc: ldy)
    }

    /// `y += x` over `count` values, on every core.
    static func add(_ x: In, into y: Out, count: Int) {
        nonisolated(unsafe) let (x, y) = (x, y)
        LayerOps.parallelChunks(count) { range in for i in range { y[i] += x[i] } }
    }

    /// Backward of `linear`: `dW += dyᵀ·x`, `db += Σ dy`, and `dx (+)= dy·W` when `dx` is given.
    static func linearBackward(_ dy: In, rows: Int, outputs: Int, ldy: Int, x: In, inputs: Int, ldx: Int, weight: In,
                               dWeight: Out, dBias: Out, dx: Out?, ldDx: Int, accumulate: Bool) {
        BLAS.gemm(m: outputs, n: inputs, k: rows, a: dy, lda: ldy, transposeA: true, b: x, ldb: ldx, transposeB: false,
                  beta: 1, c: dWeight, ldc: inputs)
        for r in 0..<rows {
            let row = dy + r * ldy
            for i in 0..<outputs { dBias[i] += row[i] }
        }
        if let dx {
            BLAS.gemm(m: rows, n: inputs, k: outputs, a: dy, lda: ldy, transposeA: false, b: weight, ldb: inputs,
                      transposeB: false, beta: accumulate ? 1 : 0, c: dx, ldc: ldDx)
        }
    }

    /// Layer norm of each row (Tensor's kernel), keeping the normalised rows and reciprocal
    /// deviations for the backward pass.
    static func layerNorm(_ x: In, rows: Int, width: Int, weight: In, bias: In, eps: Float, xhat: Out, rstd: Out, y: Out) {
        LayerOps.layerNorm(x, rows: rows, width: width, weight: weight, bias: bias, eps: eps, into: y, xhat: xhat, rstd: rstd)
    }

    /// Backward of `layerNorm`: `dx += rstd·(ĝ − mean ĝ − x̂·mean(ĝ·x̂))` with `ĝ = dy·w`; `dw += Σ dy·x̂`, `db += Σ dy`.
    static func layerNormBackward(_ dy: In, rows: Int, width: Int, xhat: In, rstd: In, weight: In,
                                  dWeight: Out, dBias: Out, dx: Out) {
        nonisolated(unsafe) let (dy, xhat, rstd, weight, dx) = (dy, xhat, rstd, weight, dx)
        LayerOps.parallelChunks(rows, minimum: 64) { range in
            let g = UnsafeMutablePointer<Float>.allocate(capacity: width)
            defer { g.deallocate() }
            for r in range {
                let dr = dy + r * width, xr = xhat + r * width, out = dx + r * width
                var meanG: Float = 0, meanGX: Float = 0
                for i in 0..<width {
                    let v = dr[i] * weight[i]
                    g[i] = v
                    meanG += v
                    meanGX += v * xr[i]
                }
                meanG /= Float(width)
                meanGX /= Float(width)
                let s = rstd[r]
                for i in 0..<width { out[i] += s * (g[i] - meanG - xr[i] * meanGX) }
            }
        }
        // The parameter sums run in row order on one thread, so they are the same on every run.
        for r in 0..<rows {
            let dr = dy + r * width, xr = xhat + r * width
            for i in 0..<width {
                dWeight[i] += dr[i] * xr[i]
                dBias[i] += dr[i]
            }
        }
    }

    /// Exact (erf) GELU, as PyTorch's default and diffusers' `"gelu"`, eight lanes at a time.
    static func gelu(_ u: In, count: Int, into g: Out) {
        nonisolated(unsafe) let (u, g) = (u, g)
        LayerOps.parallelChunks(count) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let v = UnsafeRawPointer(u + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(g + i).storeBytes(of: v * VectorMath.normal8(v).cdf, as: SIMD8<Float>.self)
                i += 8
            }
            for j in i..<range.upperBound { let v = u[j]; g[j] = 0.5 * v * (1 + erff(v * 0.707_106_781_186_547_5)) }
        }
    }

    /// `du = dg · GELU'(u)` with `GELU'(u) = Φ(u) + u·φ(u)`, in place over `dg`.
    static func geluBackward(_ u: In, count: Int, gradient dg: Out) {
        nonisolated(unsafe) let (u, dg) = (u, dg)
        LayerOps.parallelChunks(count) { range in
            var i = range.lowerBound
            while i + 8 <= range.upperBound {
                let v = UnsafeRawPointer(u + i).loadUnaligned(as: SIMD8<Float>.self)
                let (cdf, gauss) = VectorMath.normal8(v)
                let d = UnsafeRawPointer(dg + i).loadUnaligned(as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(dg + i).storeBytes(of: d * (cdf + v * gauss * 0.398_942_280_401_432_7), as: SIMD8<Float>.self)
                i += 8
            }
            for j in i..<range.upperBound {
                let v = u[j]
                let cdf = 0.5 * (1 + erff(v * 0.707_106_781_186_547_5))
                dg[j] *= cdf + v * expf(-0.5 * v * v) * 0.398_942_280_401_432_7
            }
        }
    }

    /// Masked multi-head attention: `softmax(q·kᵀ/√d + mask)·v` per head, with `mask[b][i][j]`
    /// = −10000 for a later key (causal) plus −10000 for a padded text key, added as diffusers
    /// does. Keeps the probabilities [batch, heads, tokens, tokens] for the backward pass.
    static func attention(q: In, k: In, v: In, batch: Int, tokens: Int, heads: Int, headDim: Int, textTokens: Int,
                          textMask: UnsafePointer<UInt8>, probs: Out, out: Out) {
        let width = heads * headDim, scale = 1 / Float(headDim).squareRoot()
        nonisolated(unsafe) let (q, k, v, textMask, probs, out) = (q, k, v, textMask, probs, out)
        LayerOps.forEachPair(batch * heads) { pair, _ in
            let b = pair / heads, h = pair % heads
            let offset = b * tokens * width + h * headDim
            let s = probs + pair * tokens * tokens
            BLAS.gemm(m: tokens, n: tokens, k: headDim, alpha: scale, a: q + offset, lda: width, transposeA: false,
                      b: k + offset, ldb: width, transposeB: true, beta: 0, c: s, ldc: tokens)
            let mask = textMask + b * textTokens
            for i in 0..<tokens {
                let row = s + i * tokens
                var maximum = -Float.infinity
                for j in 0..<tokens {
                    var add: Float = j > i ? -10000 : 0
                    if j < textTokens && mask[j] == 0 { add += -10000 }
                    row[j] += add
                    maximum = max(maximum, row[j])
                }
                var sum: Float = 0
                for j in 0..<tokens { let e = expf(row[j] - maximum); row[j] = e; sum += e }
                let inv = 1 / sum
                for j in 0..<tokens { row[j] *= inv }
            }
            BLAS.gemm(m: tokens, n: headDim, k: tokens, a: s, lda: tokens, transposeA: false, b: v + offset, ldb: width,
                      transposeB: false, beta: 0, c: out + offset, ldc: width)
        }
    }

    /// Backward of `attention`: `dq`, `dk`, `dv` (overwritten) from `dOut`.
    static func attentionBackward(dOut: In, q: In, k: In, v: In, probs: In, batch: Int, tokens: Int, heads: Int, headDim: Int,
                                  dq: Out, dk: Out, dv: Out) {
        let width = heads * headDim, scale = 1 / Float(headDim).squareRoot()
        nonisolated(unsafe) let (dOut, q, k, v, probs, dq, dk, dv) = (dOut, q, k, v, probs, dq, dk, dv)
        LayerOps.forEachPair(batch * heads, scratchCount: tokens * tokens) { pair, dp in
            let b = pair / heads, h = pair % heads
            let offset = b * tokens * width + h * headDim
            let p = probs + pair * tokens * tokens
            // dP = dO·Vᵀ, dV = Pᵀ·dO
            BLAS.gemm(m: tokens, n: tokens, k: headDim, a: dOut + offset, lda: width, transposeA: false,
                      b: v + offset, ldb: width, transposeB: true, beta: 0, c: dp, ldc: tokens)
            BLAS.gemm(m: tokens, n: headDim, k: tokens, a: p, lda: tokens, transposeA: true, b: dOut + offset, ldb: width,
                      transposeB: false, beta: 0, c: dv + offset, ldc: width)
            // dS = P ⊙ (dP − rowsum(P ⊙ dP))
            for i in 0..<tokens {
                let pr = p + i * tokens, dr = dp + i * tokens
                var dot: Float = 0
                for j in 0..<tokens { dot += pr[j] * dr[j] }
                for j in 0..<tokens { dr[j] = pr[j] * (dr[j] - dot) }
            }
            // dQ = scale·dS·K, dK = scale·dSᵀ·Q
            BLAS.gemm(m: tokens, n: headDim, k: tokens, alpha: scale, a: dp, lda: tokens, transposeA: false,
                      b: k + offset, ldb: width, transposeB: false, beta: 0, c: dq + offset, ldc: width)
            BLAS.gemm(m: tokens, n: headDim, k: tokens, alpha: scale, a: dp, lda: tokens, transposeA: true,
                      b: q + offset, ldb: width, transposeB: false, beta: 0, c: dk + offset, ldc: width)
        }
    }
}
