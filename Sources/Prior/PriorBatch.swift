/// One batch of prior inputs, row-major float32.
public struct PriorBatch: Sendable {
    public var size: Int
    /// The interleaved text states [size, numEmbeddings, embeddingDim] (`encoder_hidden_states`).
    public var text: [Float]
    /// The text key-padding mask [size, numEmbeddings]: 1 where the token may be attended to.
    public var textMask: [UInt8]
    /// The pooled text embedding [size, projDim] (`proj_embedding`).
    public var pooled: [Float]
    /// The control (Canny or zero-image) embedding [size, projDim]; ignored by a prior without a control token.
    public var control: [Float]
    /// The noise input [size, embeddingDim] (`hidden_states`).
    public var noise: [Float]

    public init(size: Int, text: [Float], textMask: [UInt8], pooled: [Float], control: [Float], noise: [Float]) {
        self.size = size
        self.text = text
        self.textMask = textMask
        self.pooled = pooled
        self.control = control
        self.noise = noise
    }

    /// Checks every array against the config's widths.
    public func validate(_ config: PriorConfig) throws {
        let checks: [(String, Int, Int)] = [
            ("text", text.count, size * config.numEmbeddings * config.embeddingDim),
            ("textMask", textMask.count, size * config.numEmbeddings),
            ("pooled", pooled.count, size * config.projDim),
            ("control", control.count, config.hasControl ? size * config.projDim : control.count),
            ("noise", noise.count, size * config.embeddingDim),
        ]
        for (name, have, want) in checks where have != want {
            throw PriorError(.badInput, "\(name) holds \(have) values; a batch of \(size) needs \(want)")
        }
    }

    /// Rows `range` of the batch.
    public func slice(_ range: Range<Int>, _ config: PriorConfig) -> PriorBatch {
        func rows<T>(_ a: [T], _ width: Int) -> [T] { Array(a[(range.lowerBound * width)..<(range.upperBound * width)]) }
        return PriorBatch(size: range.count, text: rows(text, config.numEmbeddings * config.embeddingDim),
                          textMask: rows(textMask, config.numEmbeddings), pooled: rows(pooled, config.projDim),
                          control: config.hasControl ? rows(control, config.projDim) : [], noise: rows(noise, config.embeddingDim))
    }
}

/// Errors of the Prior module: a code, a message and the file concerned.
public struct PriorError: Error, CustomStringConvertible, Sendable {
    public enum Code: String, Sendable {
        case badInput = "bad_input"
        case badCheckpoint = "bad_checkpoint"
        /// A checkpoint of another training run (other settings or shards).
        case foreignCheckpoint = "foreign_checkpoint"
        case noData = "no_data"
        case io
        case diverged
    }

    public var code: Code
    public var message: String
    public var path: String?

    public init(_ code: Code, _ message: String, path: String? = nil) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { (path.map { "\($0): " } ?? "") + message }
}
