import Formats
public import Catalog
import Foundation
import Models
public import Prior
import Tensor

/// Batches of prior inputs read from the shards through the catalog's index: the rows of one
/// split, in each epoch's shuffled order (`catalog order`: SHA-256 of "seed:epoch:id"), with the
/// noise and control dropout drawn per sample from the seed, so any step's batch can be rebuilt
/// from the step number alone (what makes resume exact).
public final class ShardBatches {
    public struct Row: Sendable { public var path: String; public var row: Int; public var sampleID: String }

    /// One batch: the prior's inputs, the target image embeddings and the sample ids.
    public struct Batch {
        public var inputs: PriorBatch
        public var target: [Float]
        public var sampleIDs: [String]

        public init(inputs: PriorBatch, target: [Float], sampleIDs: [String]) {
            self.inputs = inputs
            self.target = target
            self.sampleIDs = sampleIDs
        }
    }

    public let split: String
    public let count: Int
    /// Text-state width (the interleaved states) and projection width (pooled, control, target).
    public let textWidth: Int
    public let projWidth: Int
    let buildDir: String
    let catalog: Catalog
    let seed: Int
    private var epochCache: (epoch: Int, rows: [Row])?
    private var files: [String: SafetensorsFile] = [:]
    private var converted: [String: [Float]] = [:]
    private var masks: [String: [UInt8]] = [:]
    private var order: [String] = []

    public init(catalog: Catalog, buildDir: String, split: String, seed: Int) throws {
        self.catalog = catalog
        self.buildDir = buildDir
        self.split = split
        self.seed = seed
        let first = try catalog.epochOrder(split: split, seed: seed, epoch: 0)
        count = first.count
        epochCache = (0, first.map { Row(path: $0.path, row: $0.row, sampleID: $0.sampleID) })
        guard let sample = first.first else {
            textWidth = 0
            projWidth = 0
            return
        }
        let file = try SafetensorsFile(path: buildDir + "/" + sample.path)
        guard let text = file.entries[ShardSchema.Tensor.interleavedText.rawValue], text.shape.count == 3, let pooled = file.entries[ShardSchema.Tensor.textEmbeds.rawValue],
              pooled.shape.count == 2 else {
            throw PriorError(.badInput, "not an interleaved shard (no interleaved_text / text_embeds)", path: file.path)
        }
        textWidth = text.shape[2]
        projWidth = pooled.shape[1]
    }

    /// The split's rows in `epoch`'s order.
    public func rows(epoch: Int) throws -> [Row] {
        if let cached = epochCache, cached.epoch == epoch { return cached.rows }
        let rows = try catalog.epochOrder(split: split, seed: seed, epoch: epoch)
            .map { Row(path: $0.path, row: $0.row, sampleID: $0.sampleID) }
        epochCache = (epoch, rows)
        return rows
    }

    /// A tensor of a shard as float32, converted once and kept for the few most recent shards.
    private func tensor(_ path: String, _ name: String) throws -> (values: [Float], shape: [Int]) {
        let key = path + "#" + name
        let file = try shardFile(path)
        guard let entry = file.entries[name] else { throw PriorError(.badInput, "shard lacks \(name) (rebuild it with this version's shard stage)", path: file.path) }
        if let values = converted[key] { return (values, entry.shape) }
        let values = try file.floats(name).array
        converted[key] = values
        return (values, entry.shape)
    }

    /// A shard's attention mask bytes, read once per shard.
    private func attentionMask(_ path: String) throws -> [UInt8] {
        if let bytes = masks[path] { return bytes }
        let bytes = try shardFile(path).bytes(ShardSchema.Tensor.attentionMask.rawValue)
        masks[path] = bytes
        return bytes
    }

    private func shardFile(_ path: String) throws -> SafetensorsFile {
        if let file = files[path] { return file }
        let file = try SafetensorsFile(path: buildDir + "/" + path)
        files[path] = file
        order.append(path)
        if order.count > 8 {
            let old = order.removeFirst()
            files[old] = nil
            converted = converted.filter { !$0.key.hasPrefix(old + "#") }
            masks[old] = nil
        }
        return file
    }

    /// The rows' inputs. `noiseStream` names the draw ("train:<epoch>" or "eval"); control dropout
    /// (probability `controlDropout`) swaps in the shard's zero-image embedding.
    public func batch(_ rows: [Row], noiseStream: String, controlDropout: Double, noiseWidth: Int) throws -> Batch {
        let n = rows.count, t = textWidth, p = projWidth
        var text = [Float](), mask = [UInt8](), pooled = [Float](), control = [Float](), noise = [Float](), target = [Float]()
        text.reserveCapacity(n * CLIPText.contextLength * t)
        for row in rows {
            let file = try shardFile(row.path)
            let (hidden, hiddenShape) = try tensor(row.path, ShardSchema.Tensor.interleavedText.rawValue)
            guard hiddenShape.count == 3, row.row < hiddenShape[0], hiddenShape[2] == t else {
                throw PriorError(.badInput, "row \(row.row) is outside interleaved_text \(hiddenShape) or of another width", path: file.path)
            }
            let tokens = hiddenShape[1]
            text += hidden[(row.row * tokens * t)..<((row.row + 1) * tokens * t)]
            let maskBytes = try attentionMask(row.path)
            guard (row.row + 1) * tokens <= maskBytes.count else {
                throw PriorError(.badInput, "attention_mask has no row \(row.row) of \(tokens) tokens", path: file.path)
            }
            mask += maskBytes[(row.row * tokens)..<((row.row + 1) * tokens)]
            func vector(_ name: String, _ index: Int) throws -> ArraySlice<Float> {
                let (values, shape) = try tensor(row.path, name)
                guard shape.last == p, (index + 1) * p <= values.count else {
                    throw PriorError(.badInput, "\(name) \(shape) has no row \(index) of width \(p)", path: file.path)
                }
                return values[(index * p)..<((index + 1) * p)]
            }
            pooled += try vector(ShardSchema.Tensor.textEmbeds.rawValue, row.row)
            target += try vector(ShardSchema.Tensor.targetImageEmbeds.rawValue, row.row)
            var rng = SplitMix64(seed: Self.streamSeed(seed: seed, stream: noiseStream, sampleID: row.sampleID))
            let dropControl = Double(rng.nextUnit()) < controlDropout
            control += try dropControl ? vector(ShardSchema.Tensor.zeroImageEmbeds.rawValue, 0) : vector(ShardSchema.Tensor.controlEmbeds.rawValue, row.row)
            for _ in 0..<noiseWidth { noise.append(rng.nextGaussian()) }
        }
        return Batch(inputs: PriorBatch(size: n, text: text, textMask: mask, pooled: pooled, control: control, noise: noise),
                     target: target, sampleIDs: rows.map(\.sampleID))
    }

    /// The generator seed of one sample's draws in one stream (FNV-1a over "seed:stream:id").
    static func streamSeed(seed: Int, stream: String, sampleID: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in "\(seed):\(stream):\(sampleID)".utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash
    }
}
