/// Every buffer a pass of the prior needs, in one allocation sized once from the config and the
/// batch size (as llm.c's `ActivationTensors`): a training workspace keeps each block's
/// activations for the backward pass, a prediction workspace shares one set between blocks.
/// `n` = batch size, `t` = tokens, `d` = inner width, `f` = 4·d, `h` = heads, `c` = output width.
public final class PriorWorkspace {
    /// One block's activations.
    struct Block {
        let x: UnsafeMutablePointer<Float>        // [n·t, d] the block's input
        let xhat1: UnsafeMutablePointer<Float>    // [n·t, d] normalised input (norm1)
        let rstd1: UnsafeMutablePointer<Float>    // [n·t] 1/σ of each row (norm1)
        let h1: UnsafeMutablePointer<Float>       // [n·t, d] norm1 output
        let q: UnsafeMutablePointer<Float>        // [n·t, d]
        let k: UnsafeMutablePointer<Float>        // [n·t, d]
        let v: UnsafeMutablePointer<Float>        // [n·t, d]
        let probs: UnsafeMutablePointer<Float>    // [n, h, t, t] attention weights
        let attn: UnsafeMutablePointer<Float>     // [n·t, d] attention output before to_out
        let x1: UnsafeMutablePointer<Float>       // [n·t, d] after the attention residual
        let xhat3: UnsafeMutablePointer<Float>    // [n·t, d] normalised x1 (norm3)
        let rstd3: UnsafeMutablePointer<Float>    // [n·t]
        let h3: UnsafeMutablePointer<Float>       // [n·t, d] norm3 output
        let u: UnsafeMutablePointer<Float>        // [n·t, f] ff1 output (before GELU)
        let g: UnsafeMutablePointer<Float>        // [n·t, f] GELU(u)
    }

    public let batchSize: Int
    /// Whether each block keeps its activations (needed by `backward`).
    public let isTraining: Bool
    let blocks: [Block]
    let stream: UnsafeMutablePointer<Float>       // [n·t, d] the residual stream
    let last: UnsafeMutablePointer<Float>         // [n, d] the prd token's row of the stream
    let xhatOut: UnsafeMutablePointer<Float>      // [n, d] norm_out normalised
    let rstdOut: UnsafeMutablePointer<Float>      // [n]
    let yOut: UnsafeMutablePointer<Float>         // [n, d] norm_out output
    // Backward only (training workspaces).
    let dWide: UnsafeMutablePointer<Float>        // [n·t, f] gradient through the feed-forward
    let dh: UnsafeMutablePointer<Float>           // [n·t, d] gradient at a norm's output
    let dq: UnsafeMutablePointer<Float>           // [n·t, d]
    let dk: UnsafeMutablePointer<Float>           // [n·t, d]
    let dv: UnsafeMutablePointer<Float>           // [n·t, d]
    let dAttn: UnsafeMutablePointer<Float>        // [n·t, d]
    let dStream: UnsafeMutablePointer<Float>      // [n·t, d] gradient of the residual stream
    let dy: UnsafeMutablePointer<Float>           // [n, d]
    let dLast: UnsafeMutablePointer<Float>        // [n, d]
    /// The batch of the last forward pass (what `backward` differentiates).
    var batch: PriorBatch?
    private let storage: UnsafeMutableBufferPointer<Float>

    /// - Parameters:
    ///   - batchSize: the rows every pass through this workspace has.
    ///   - training: keep every block's activations and hold the backward buffers.
    public init(config: PriorConfig, batchSize: Int, training: Bool) {
        let n = batchSize, rows = n * config.tokens, d = config.innerDim, f = 4 * d
        let h = config.numAttentionHeads, t = config.tokens
        let blockCount = training ? config.numLayers : 1
        self.batchSize = n
        isTraining = training
        let perBlock = 10 * rows * d + 2 * rows + n * h * t * t + 2 * rows * f
        let backward = training ? rows * f + 6 * rows * d + 2 * n * d : 0
        let total = rows * d + 3 * n * d + n + blockCount * perBlock + backward
        storage = .allocate(capacity: max(total, 1))
        storage.initialize(repeating: 0)
        var next = storage.baseAddress!
        func take(_ count: Int) -> UnsafeMutablePointer<Float> {
            defer { next += count }
            return next
        }
        stream = take(rows * d)
        (last, xhatOut, rstdOut, yOut) = (take(n * d), take(n * d), take(n), take(n * d))
        blocks = (0..<blockCount).map { _ in
            Block(x: take(rows * d), xhat1: take(rows * d), rstd1: take(rows), h1: take(rows * d), q: take(rows * d),
                  k: take(rows * d), v: take(rows * d), probs: take(n * h * t * t), attn: take(rows * d), x1: take(rows * d),
                  xhat3: take(rows * d), rstd3: take(rows), h3: take(rows * d), u: take(rows * f), g: take(rows * f))
        }
        let b = training
        dWide = b ? take(rows * f) : next
        (dh, dq, dk, dv) = b ? (take(rows * d), take(rows * d), take(rows * d), take(rows * d)) : (next, next, next, next)
        (dAttn, dStream) = b ? (take(rows * d), take(rows * d)) : (next, next)
        (dy, dLast) = b ? (take(n * d), take(n * d)) : (next, next)
    }

    deinit { storage.deallocate() }

    /// The activations of block `l` (all blocks share one set when not training).
    func block(_ l: Int) -> Block { blocks[isTraining ? l : 0] }
}
