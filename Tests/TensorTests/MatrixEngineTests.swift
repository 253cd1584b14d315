import Foundation
import PipelineTestSupport
import Testing
@testable import Tensor

/// The matrix engines: OpenBLAS's kernel family and the bf16 engine chosen from CPU features on a
/// table of real CPUs, and oneDNN's bf16 products against the exact sums of bfloat16-rounded terms.
@Suite struct MatrixEngineTests {
    typealias CPU = MatrixEngines.CPU

    // Real CPUs, by their CPUID family / model and the flags the choices read.
    static let emeraldRapids = CPU(vendor: .intel, family: 6, model: 207, avx: true, avx2: true, fma: true, avx512: true,
                                   avx512BF16: true, amxBF16: true)
    static let sapphireRapids = CPU(vendor: .intel, family: 6, model: 143, avx: true, avx2: true, fma: true, avx512: true,
                                    avx512BF16: true, amxBF16: true)
    static let cooperLake = CPU(vendor: .intel, family: 6, model: 85, avx: true, avx2: true, fma: true, avx512: true, avx512BF16: true)
    static let skylakeSP = CPU(vendor: .intel, family: 6, model: 85, avx: true, avx2: true, fma: true, avx512: true)
    static let haswell = CPU(vendor: .intel, family: 6, model: 63, avx: true, avx2: true, fma: true)
    static let sandyBridge = CPU(vendor: .intel, family: 6, model: 42, avx: true)
    static let core2 = CPU(vendor: .intel, family: 6, model: 23)
    static let zen3 = CPU(vendor: .amd, family: 25, model: 1, avx: true, avx2: true, fma: true)
    static let zen4 = CPU(vendor: .amd, family: 25, model: 17, avx: true, avx2: true, fma: true, avx512: true, avx512BF16: true)
    static let zen5 = CPU(vendor: .amd, family: 26, model: 2, avx: true, avx2: true, fma: true, avx512: true, avx512BF16: true)

    /// What each CPU's features allow, and the switch made from what OpenBLAS 0.3.21's own table
    /// chose there (Emerald Rapids: "Prescott", measured 2026-12-07); the user's variable always wins.
    @Test func openBLASKernelsFollowTheFeatures() {
        #expect(MatrixEngines.openBLASCore(for: Self.emeraldRapids) == "Cooperlake")
        #expect(MatrixEngines.openBLASCore(for: Self.skylakeSP) == "SkylakeX")
        #expect(MatrixEngines.openBLASCore(for: Self.zen3) == "Zen")
        #expect(MatrixEngines.openBLASCore(for: Self.haswell) == "Haswell")
        #expect(MatrixEngines.openBLASCore(for: Self.sandyBridge) == "Sandybridge")
        #expect(MatrixEngines.openBLASCore(for: Self.core2) == nil)
        let cases: [(CPU, String?, String, String?)] = [
            (Self.emeraldRapids, nil, "Prescott", "Cooperlake"),        // a model newer than the table
            (Self.emeraldRapids, "Haswell", "Haswell", nil),            // the user's OPENBLAS_CORETYPE wins
            (Self.emeraldRapids, "Prescott", "Prescott", nil),          // even a slower one
            (Self.sapphireRapids, nil, "SapphireRapids", nil),          // a build that knows it: kept
            (Self.sapphireRapids, nil, "Cooperlake", nil),
            (Self.zen4, nil, "Cooperlake", nil),                        // 0.3.21 knows Zen 4
            (Self.zen5, nil, "Prescott", "Cooperlake"),
            (Self.zen5, nil, "Haswell", "Cooperlake"),
            (Self.zen3, nil, "Zen", nil),
            (Self.zen3, nil, "Prescott", "Zen"),
            (Self.skylakeSP, nil, "SkylakeX", nil),
            (Self.skylakeSP, nil, "Haswell", "SkylakeX"),
            (Self.cooperLake, nil, "SkylakeX", "Cooperlake"),
            (Self.haswell, nil, "Haswell", nil),
            (Self.haswell, nil, "Nehalem", "Haswell"),
            (Self.sandyBridge, nil, "Prescott", "Sandybridge"),
            (Self.core2, nil, "Core2", nil),
            (Self.zen4, nil, "NeoverseN2", nil),                        // a name the table lacks: never downgraded
            (Self.zen4, "", "Prescott", "Cooperlake"),                  // an empty variable is no choice
        ]
        for (cpu, environment, library, expected) in cases {
            #expect(MatrixEngines.openBLASCoreChoice(cpu: cpu, environment: environment, library: library) == expected,
                    "\(cpu.summary), OPENBLAS_CORETYPE=\(environment ?? "unset"), OpenBLAS chose \(library)")
        }
    }

    /// The bf16 engine's measured rule: AMX, or AVX512-BF16 on AMD, run oneDNN; Intel without AMX
    /// and emulated bf16 keep the float32 products; no bf16 matmul (AVX2) is the fallback.
    @Test func bf16EngineFollowsTheMeasuredRule() {
        func engine(_ cpu: CPU, _ implementation: String?, _ override: String? = nil) -> Bool {
            MatrixEngines.bf16Choice(cpu: cpu, implementation: implementation, override: override).usesOneDNN
        }
        #expect(engine(Self.emeraldRapids, "brg:avx512_core_amx_bf16"))
        #expect(engine(Self.sapphireRapids, "brg:avx512_core_amx_bf16"))
        #expect(engine(Self.zen4, "brg:avx512_core_bf16"))
        #expect(engine(Self.zen5, "brg:avx512_core_bf16"))
        #expect(!engine(Self.cooperLake, "brg:avx512_core_bf16"))
        #expect(!engine(Self.emeraldRapids, "brg:avx512_core_bf16"))  // capped below AMX: slower than sgemm there
        #expect(!engine(Self.skylakeSP, "gemm:jit"))                  // bf16 emulated
        #expect(!engine(Self.zen3, nil))
        #expect(!engine(Self.haswell, nil, "onednn"))                 // nothing to force onto
        #expect(engine(Self.skylakeSP, "gemm:jit", "onednn"))
        #expect(!engine(Self.zen4, "brg:avx512_core_bf16", "fallback"))
        if case .fallback(let reason) = MatrixEngines.bf16Choice(cpu: Self.zen3, implementation: nil, override: nil) {
            #expect(reason.contains("no bf16 matmul") && reason.contains("AMD family 25 model 1"))
        } else {
            Issue.record("an AVX2 CPU chose oneDNN")
        }
    }

    /// Float32 layer products: oneDNN's f32 matmul on AVX-512 CPUs (measured faster than OpenBLAS
    /// on Zen 4, equal on Emerald Rapids), OpenBLAS elsewhere; the override picks either.
    @Test func f32EngineFollowsTheMeasuredRule() {
        func engine(_ cpu: CPU, _ implementation: String?, _ override: String? = nil) -> Bool {
            MatrixEngines.f32Choice(cpu: cpu, implementation: implementation, override: override).usesOneDNN
        }
        #expect(engine(Self.zen4, "brg:avx512_core"))
        #expect(engine(Self.emeraldRapids, "brg:avx512_core"))
        #expect(engine(Self.skylakeSP, "brg:avx512_core"))
        #expect(!engine(Self.zen3, "brg:avx2"))
        #expect(!engine(Self.haswell, "gemm:jit"))
        #expect(!engine(Self.zen4, "brg:avx512_core", "openblas"))
        #expect(engine(Self.zen3, "brg:avx2", "onednn"))
        #expect(!engine(Self.zen3, nil, "onednn"))
    }

    /// oneDNN's f32 matmul with reordered weights equals sgemm on the same operands (float32
    /// rounding apart), with bias and into an accumulator, where oneDNN has one.
    @Test func f32EngineEqualsSgemm() throws {
        guard MatrixEngines.f32Implementation != nil else {
            SkippedCheck.report("oneDNN f32 matmul against sgemm", cause: .hardware, because: "oneDNN has no f32 matmul on \(CPU.host.summary)")
            return
        }
        var random = SplitMix64(seed: 3)
        let (rows, inputs, outputs) = (37, 200, 96)
        let x = (0..<(rows * inputs)).map { _ in random.nextUnit() * 2 - 1 }
        let w = (0..<(outputs * inputs)).map { _ in random.nextUnit() * 2 - 1 }
        let bias = (0..<outputs).map { _ in random.nextUnit() }
        let engine = LayerOps.Matrix.engine(try EngineWeights(f32: w, outputs: outputs, inputs: inputs))
        try w.withUnsafeBufferPointer { wb in
            try bias.withUnsafeBufferPointer { bb in
                let plain = LayerOps.linear(x, rows: rows, inputs: inputs, weight: .f32(wb.baseAddress!), bias: bb.baseAddress!, outputs: outputs)
                let ours = LayerOps.linear(x, rows: rows, inputs: inputs, weight: engine, bias: bb.baseAddress!, outputs: outputs)
                #expect(zip(plain, ours).map { abs($0 - $1) }.max()! < 1e-4)
                var (a, b) = ([Float](repeating: 0.5, count: rows * outputs), [Float](repeating: 0.5, count: rows * outputs))
                LayerOps.addLinear(x, rows: rows, inputs: inputs, weight: .f32(wb.baseAddress!), bias: bb.baseAddress!, outputs: outputs, into: &a)
                LayerOps.addLinear(x, rows: rows, inputs: inputs, weight: engine, bias: bb.baseAddress!, outputs: outputs, into: &b)
                #expect(zip(a, b).map { abs($0 - $1) }.max()! < 1e-4)
                _ = try #require(a.first)
            }
        }
    }

    static func bits(_ values: [Float]) -> [UInt16] {
        var out = [UInt16](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { BF16.convert($0.baseAddress!, count: values.count, into: &out) }
        return out
    }

    static func widened(_ values: [UInt16]) -> [Double] {
        var out = [Float](repeating: 0, count: values.count)
        values.withUnsafeBufferPointer { BF16.widen($0.baseAddress!, count: values.count, into: &out) }
        return out.map(Double.init)
    }

    /// Where oneDNN has a bf16 matmul (natively, or emulated on AVX-512 without BF16): its products
    /// equal the double-precision sums of the bfloat16-rounded terms within float32 accumulation
    /// error, for every row count from 1 to 300 and a ViT-L-sized one, with bias, into an
    /// accumulator, and at a leading dimension wider than the row. Elsewhere the check says so and
    /// the fallback is held to the same sums.
    @Test func engineEqualsTheRoundedSums() throws {
        var random = SplitMix64(seed: 5)
        let (inputs, outputs) = (320, 136)
        let w = (0..<(outputs * inputs)).map { _ in random.nextUnit() * 2 - 1 }
        let bias = (0..<outputs).map { _ in random.nextUnit() - 0.5 }
        let wb = Self.bits(w), wr = Self.widened(wb)
        func expected(_ x: [Float], rows: Int, start: [Float]?) -> [Double] {
            let xr = Self.widened(Self.bits(x))
            return (0..<(rows * outputs)).map { i in
                let (r, o) = (i / outputs, i % outputs)
                var s = Double(bias[o]) + (start.map { Double($0[i]) } ?? 0)
                for j in 0..<inputs { s += xr[r * inputs + j] * wr[o * inputs + j] }
                return s
            }
        }
        let matrix: LayerOps.Matrix
        if MatrixEngines.bf16Implementation != nil {
            matrix = .engine(try EngineWeights(bf16: wb, outputs: outputs, inputs: inputs))
        } else {
            SkippedCheck.report("oneDNN bf16 matmul against the rounded sums", cause: .hardware,
                                because: "oneDNN 2.6 has no bf16 matmul on \(CPU.host.summary) (it needs AVX-512); the fallback is tested")
            matrix = wb.withUnsafeBufferPointer { .bf16($0.baseAddress!) }
        }
        var worst = 0.0
        for rows in Array(1...40) + [63, 64, 65, 127, 128, 129, 200, 257, 300] {
            let x = (0..<(rows * inputs)).map { _ in random.nextUnit() * 4 - 2 }
            let y = wb.withUnsafeBufferPointer { _ in
                bias.withUnsafeBufferPointer { LayerOps.linear(x, rows: rows, inputs: inputs, weight: matrix, bias: $0.baseAddress!, outputs: outputs) }
            }
            worst = max(worst, zip(y, expected(x, rows: rows, start: nil)).map { abs(Double($0) - $1) }.max()!)
            var acc = (0..<(rows * outputs)).map { _ in random.nextUnit() }
            let start = acc
            bias.withUnsafeBufferPointer {
                LayerOps.addLinear(x, rows: rows, inputs: inputs, weight: matrix, bias: $0.baseAddress!, outputs: outputs, into: &acc)
            }
            worst = max(worst, zip(acc, expected(x, rows: rows, start: start)).map { abs(Double($0) - $1) }.max()!)
        }
        // Sums of 320 terms of magnitude <= 2: float32 accumulation error well below 1e-4.
        #expect(worst < 1e-4, "largest difference \(worst)")
    }

    /// bf16 attention (both products on oneDNN, softmax in float32) equals float32 attention on the
    /// bfloat16-rounded q, k and v within the rounding of the probabilities, with a causal and a
    /// key mask; where oneDNN has no bf16 matmul the check says so.
    @Test func bf16AttentionEqualsAttentionOnRoundedInputs() {
        guard MatrixEngines.bf16Implementation != nil else {
            SkippedCheck.report("bf16 attention on oneDNN", cause: .hardware,
                                because: "oneDNN 2.6 has no bf16 matmul on \(CPU.host.summary) (it needs AVX-512)")
            return
        }
        var random = SplitMix64(seed: 11)
        let (batch, tokens, heads, headDim) = (3, 19, 4, 16)
        let count = batch * tokens * heads * headDim
        func rounded() -> [Float] { Self.widened(Self.bits((0..<count).map { _ in random.nextUnit() * 2 - 1 })).map(Float.init) }
        let (q, k, v) = (rounded(), rounded(), rounded())
        let mask = (0..<(batch * tokens)).map { $0 % 7 != 3 }
        for causal in [false, true] {
            let plain = LayerOps.attention(q: q, k: k, v: v, batch: batch, tokens: tokens, heads: heads, headDim: headDim,
                                           causal: causal, keyMask: mask)
            let engine = LayerOps.attention(q: q, k: k, v: v, batch: batch, tokens: tokens, heads: heads, headDim: headDim,
                                            causal: causal, keyMask: mask, bf16: true)
            let worst = zip(plain, engine).map { abs($0 - $1) }.max()!
            // Probabilities rounded to bfloat16 (2^-9 relative) times |v| <= 1, summed: at most ~4e-3.
            #expect(worst < 4e-3 && worst > 0, "largest difference \(worst) (causal \(causal))")
        }
    }
}
