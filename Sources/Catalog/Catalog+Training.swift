import BuildSupport
/// What `prior train` records: every step's loss, each evaluation, each checkpoint, per run
/// (the hash of the training settings and the shards they read).
extension Catalog {
    /// The SHA-256 of every shard, in shard id order (part of a training run's identity).
    public func shardDigests() throws -> [String] {
        try database.query("SELECT sha256 FROM shards ORDER BY id").map { $0[0].string ?? "" }
    }

    /// One optimiser step.
    public struct TrainStep: Sendable, Equatable {
        public var run: String
        public var step: Int, epoch: Int, samples: Int
        public var loss: Double, mse: Double, infoNCE: Double
        public var learningRate: Double, gradNorm: Double

        public init(run: String, step: Int, epoch: Int, samples: Int, loss: Double, mse: Double, infoNCE: Double, learningRate: Double, gradNorm: Double) {
            (self.run, self.step, self.epoch, self.samples, self.loss) = (run, step, epoch, samples, loss)
            (self.mse, self.infoNCE, self.learningRate, self.gradNorm) = (mse, infoNCE, learningRate, gradNorm)
        }
    }

    public func recordTrainStep(_ s: TrainStep) throws {
        try database.run("""
            INSERT OR REPLACE INTO train_steps (run, step, epoch, samples, loss, mse, info_nce, learning_rate, grad_norm)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [s.run, s.step, s.epoch, s.samples, s.loss, s.mse, s.infoNCE, s.learningRate, s.gradNorm])
    }

    /// One evaluation of a run at a step on a split.
    public func recordTrainEval(run: String, step: Int, epoch: Int, split: String, samples: Int, mse: Double, cosine: Double, top1: Double) throws {
        try database.run("""
            INSERT OR REPLACE INTO train_evals (run, step, epoch, split, samples, mse, cosine, top1) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, [run, step, epoch, split, samples, mse, cosine, top1])
    }

    /// A checkpoint folder written (path relative to the build).
    public func recordCheckpoint(run: String, step: Int, path: String, bytes: Int, sha256: String) throws {
        try database.run("INSERT OR REPLACE INTO checkpoints (run, step, path, bytes, sha256) VALUES (?, ?, ?, ?, ?)",
                         [run, step, path, bytes, sha256])
    }

    public func forgetCheckpoint(run: String, step: Int) throws {
        try database.run("DELETE FROM checkpoints WHERE run = ? AND step = ?", [run, step])
    }

    /// A seeded shuffled epoch order of one split: (shard path, row, sample id), sorted by
    /// SHA-256("<seed>:<epoch>:<sample id>"), so any reader (this, the Python reader) computes
    /// the same order from the index alone.
    public func epochOrder(split: String, seed: Int, epoch: Int) throws -> [(path: String, row: Int, sampleID: String)] {
        let rows = try shardRows(split: split).map { r in
            (key: SHA256.hex(Array("\(seed):\(epoch):\(r.sampleID)".utf8)), path: r.path, row: r.row, sampleID: r.sampleID)
        }
        return rows.sorted { $0.key < $1.key }.map { ($0.path, $0.row, $0.sampleID) }
    }
}
