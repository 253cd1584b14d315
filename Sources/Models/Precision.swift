import Formats
import Foundation
import Tensor

/// How a model holds its large weight matrices and multiplies with them.
public enum Precision: String, Sendable, CaseIterable {
    /// float32 weights and products (the reference's numbers).
    case f32
    /// The attention and MLP matrices of every transformer layer held in bfloat16 (half the
    /// memory), their products taken on bfloat16-rounded inputs with float32 accumulation; layer
    /// norms, softmax, residuals, embeddings and projections stay in float32.
    case bf16

    /// What a model in `precision` runs its products on here, in one line (summaries, `encode --time`).
    public static func engines(_ precision: Precision) -> String {
        let cpu = MatrixEngines.CPU.host.summary
        if precision == .bf16, case .oneDNN(let implementation) = MatrixEngines.bf16 {
            return "bf16 on oneDNN \(implementation) (\(cpu))"
        }
        let f32: String
        if case .oneDNN(let implementation) = MatrixEngines.f32 {
            f32 = "oneDNN \(implementation), the rest \(MatrixEngines.float32)"
        } else {
            f32 = MatrixEngines.float32
        }
        return (precision == .bf16 ? "bf16 on the float32 fallback, " : "f32 on ") + "\(f32) (\(cpu))"
    }

    /// What `bf16` runs on this CPU, for a notice where it is chosen: oneDNN's engine by its
    /// implementation's name, or the fallback and why.
    public static var bf16Notice: String {
        switch MatrixEngines.bf16 {
        case .oneDNN(let implementation):
            return "bf16: oneDNN \(implementation) on \(MatrixEngines.CPU.host.summary); the transformer layers' matrices "
                + "held in bfloat16 in oneDNN's layout, products on bfloat16-rounded inputs with float32 accumulation"
        case .fallback(let reason):
            return "bf16: fallback, \(reason); weights are held in bfloat16 (half the memory) and each product runs in "
                + "float32 on bfloat16-rounded inputs (the numbers of a bfloat16 engine, at float32 speed)"
        }
    }
}

/// A weight matrix `[outputs, inputs]` in the model's precision.
final class MatrixWeight: @unchecked Sendable {
    // @unchecked: immutable after init; the bfloat16 buffer is owned and freed in deinit.
    let matrix: LayerOps.Matrix
    private let f32: Weight?
    private let bf16: UnsafeMutablePointer<UInt16>?

    /// A float32 weight: read in place, or with `engine` reordered for oneDNN's f32 matmul (the
    /// mapped pages it came from dropped).
    init(_ weight: Weight, engine: Bool = false) throws {
        bf16 = nil
        if engine, weight.shape.count == 2 {
            do {
                matrix = .engine(try EngineWeights(f32: weight.pointer, outputs: weight.shape[0], inputs: weight.shape[1]))
            } catch {
                throw ModelError(.badCheckpoint, "f32 engine: \(error)")
            }
            Self.dropPages(of: weight)
            f32 = nil
        } else {
            f32 = weight
            matrix = .f32(weight.pointer)
        }
    }

    /// Converts a float32 weight to bfloat16: reordered for oneDNN with `engine` (the plain
    /// bfloat16 copy freed), else kept plain for the fallback. A weight read in place from a
    /// mapped file has its pages dropped afterwards, so the float32 copy does not stay resident.
    init(bfloat16 weight: Weight, engine: Bool) throws {
        let count = weight.count
        let buffer = UnsafeMutablePointer<UInt16>.allocate(capacity: max(1, count))
        BF16.convert(weight.pointer, count: count, into: buffer)
        Self.dropPages(of: weight)
        f32 = nil
        if engine, weight.shape.count == 2 {
            defer { buffer.deallocate() }
            do {
                matrix = .engine(try EngineWeights(bf16: buffer, outputs: weight.shape[0], inputs: weight.shape[1]))
            } catch {
                throw ModelError(.badCheckpoint, "bf16 engine: \(error)")
            }
            bf16 = nil
        } else {
            bf16 = buffer
            matrix = .bf16(UnsafePointer(buffer))
        }
    }

    /// Drops the resident pages of a weight read in place from a mapped file (once its values
    /// live elsewhere).
    static func dropPages(of weight: Weight) {
        guard weight.isMapped else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (Int(bitPattern: weight.pointer) + page - 1) / page * page
        let end = (Int(bitPattern: weight.pointer) + weight.count * MemoryLayout<Float>.stride) / page * page
        if end > start { madvise(UnsafeMutableRawPointer(bitPattern: start), end - start, Int32(MADV_DONTNEED)) }
    }

    deinit { bf16?.deallocate() }
}
