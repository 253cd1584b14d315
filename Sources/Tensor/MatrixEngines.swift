import Foundation
internal import CMatrixEngine

/// The CPU's matrix engines and how they were chosen: OpenBLAS's float32 kernel family (switched
/// at load from CPUID features where OpenBLAS's model table falls short) and the bfloat16 engine
/// (oneDNN's matmul where it pays on this CPU, else the documented fallback). Both choices are pure
/// functions of CPU features and the environment, tested on a table of real CPUs.
public enum MatrixEngines {
    /// The CPU features the choices read.
    public struct CPU: Sendable, Equatable {
        public enum Vendor: Sendable { case intel, amd, other }
        public var vendor: Vendor
        public var family = 0, model = 0
        public var avx = false, avx2 = false, fma = false
        /// AVX512 F, BW, VL, DQ and CD together (the SkylakeX level).
        public var avx512 = false
        public var avx512BF16 = false, amxBF16 = false

        public init(vendor: Vendor, family: Int = 0, model: Int = 0, avx: Bool = false, avx2: Bool = false, fma: Bool = false,
                    avx512: Bool = false, avx512BF16: Bool = false, amxBF16: Bool = false) {
            (self.vendor, self.family, self.model, self.avx, self.avx2, self.fma) = (vendor, family, model, avx, avx2, fma)
            (self.avx512, self.avx512BF16, self.amxBF16) = (avx512, avx512BF16, amxBF16)
        }

        /// This CPU (CPUID with the operating system's register state).
        public static let host: CPU = {
            let c = me_cpu_features()
            return CPU(vendor: c.intel != 0 ? .intel : c.amd != 0 ? .amd : .other, family: Int(c.family), model: Int(c.model),
                       avx: c.avx != 0, avx2: c.avx2 != 0, fma: c.fma != 0,
                       avx512: c.avx512f != 0 && c.avx512bw != 0 && c.avx512vl != 0 && c.avx512dq != 0 && c.avx512cd != 0,
                       avx512BF16: c.avx512_bf16 != 0, amxBF16: c.amx_bf16 != 0)
        }()

        var c: me_cpu {
            var c = me_cpu()
            c.intel = vendor == .intel ? 1 : 0
            c.amd = vendor == .amd ? 1 : 0
            (c.family, c.model) = (Int32(family), Int32(model))
            (c.avx, c.avx2, c.fma) = (avx ? 1 : 0, avx2 ? 1 : 0, fma ? 1 : 0)
            let v4: Int32 = avx512 ? 1 : 0
            (c.avx512f, c.avx512bw, c.avx512vl, c.avx512dq, c.avx512cd) = (v4, v4, v4, v4, v4)
            (c.avx512_bf16, c.amx_bf16) = (avx512BF16 ? 1 : 0, amxBF16 ? 1 : 0)
            return c
        }

        /// The flags that matter, for notes and reports ("AMD family 25 model 17: AVX-512, AVX512-BF16").
        public var summary: String {
            let name = vendor == .intel ? "Intel" : vendor == .amd ? "AMD" : "x86-64"
            let flags = [(amxBF16, "AMX-BF16"), (avx512BF16, "AVX512-BF16"), (avx512, "AVX-512"), (avx2, "AVX2")]
                .filter(\.0).map(\.1)
            return "\(name) family \(family) model \(model): " + (flags.isEmpty ? "no AVX2" : flags.joined(separator: ", "))
        }
    }

    // MARK: float32

    /// The OpenBLAS kernel family `cpu`'s features allow, or nil where they name none beyond SSE.
    public static func openBLASCore(for cpu: CPU) -> String? {
        me_openblas_core_for(cpu.c).map { String(cString: $0) }
    }

    /// The family to switch OpenBLAS to, or nil to keep its own: the user's `OPENBLAS_CORETYPE`
    /// (`environment`) always wins; otherwise OpenBLAS's choice (`library`) is raised to what the
    /// features allow when it is below it.
    public static func openBLASCoreChoice(cpu: CPU, environment: String?, library: String) -> String? {
        me_openblas_core_choice(cpu.c, environment, library).map { String(cString: $0) }
    }

    /// How OpenBLAS's kernels were chosen in this process, e.g. "OpenBLAS Cooperlake (OpenBLAS's own
    /// choice)", "OpenBLAS Cooperlake (from CPUID features; OpenBLAS's table said Prescott)",
    /// "OpenBLAS Haswell (OPENBLAS_CORETYPE)".
    public static var float32: String {
        let library = String(cString: me_openblas_library_choice()), switched = String(cString: me_openblas_switched_to())
        let how = me_openblas_environment_set() != 0 ? "OPENBLAS_CORETYPE"
            : switched.isEmpty ? "OpenBLAS's own choice" : "from CPUID features; OpenBLAS's table said \(library)"
        return "OpenBLAS \(BLAS.core) (\(how))"
    }

    // MARK: bfloat16

    /// What `bf16` products run on.
    public enum BF16Engine: Sendable, Equatable {
        /// oneDNN's bf16 matmul, by its implementation's name (`brg:avx512_core_amx_bf16`, …).
        case oneDNN(implementation: String)
        /// Float32 products on bfloat16-rounded inputs (the numbers of a bf16 engine at float32
        /// speed), and why.
        case fallback(reason: String)

        public var usesOneDNN: Bool { if case .oneDNN = self { true } else { false } }
    }

    /// The measured rule. `implementation` is what oneDNN chose for a probe bf16 matmul (nil: it has
    /// none); `override` is `ECLIPSE_BF16_ENGINE` (`onednn` or `fallback`).
    ///
    /// Measured (f32 sgemm against oneDNN bf16 on one core, same host and shape): Intel Emerald
    /// Rapids AMX 553-1005 GFLOP/s against 214 (2026-12-07); AMD Zen 4 `brg:avx512_core_bf16`
    /// 185-220 against 92-97 (2026-12-08); the same Intel core capped to AVX512-BF16 117 against 214
    /// (`vdpbf16ps` issues at half the FMA rate there), and to plain AVX-512 (bf16 emulated, `gemm:jit`)
    /// 40 against 214. So: AMX, or AVX512-BF16 on AMD, take oneDNN; the rest keep float32 products.
    public static func bf16Choice(cpu: CPU, implementation: String?, override: String?) -> BF16Engine {
        guard let implementation else {
            return .fallback(reason: "oneDNN has no bf16 matmul on this CPU (\(cpu.summary))")
        }
        switch override {
        case "onednn": return .oneDNN(implementation: implementation)
        case "fallback": return .fallback(reason: "ECLIPSE_BF16_ENGINE=fallback (oneDNN would run \(implementation))")
        default: break
        }
        if implementation.contains("amx") { return .oneDNN(implementation: implementation) }
        if implementation.contains("avx512_core_bf16") {
            if cpu.vendor == .amd { return .oneDNN(implementation: implementation) }
            return .fallback(reason: "oneDNN would run \(implementation), measured slower than float32 sgemm on Intel cores "
                             + "without AMX (vdpbf16ps at half the FMA rate)")
        }
        return .fallback(reason: "oneDNN would run \(implementation) (bfloat16 emulated on this CPU, slower than float32)")
    }

    /// oneDNN's implementation for a probe bf16 matmul on this CPU, or nil when it has none.
    public static let bf16Implementation: String? = {
        var name = [CChar](repeating: 0, count: 128)
        let ok = me_bf16_probe(&name, name.count) != 0
        return ok ? text(name) : nil
    }()

    /// What the models' float32 layer products run on.
    public enum F32Engine: Sendable, Equatable {
        case openBLAS
        /// oneDNN's f32 matmul, by its implementation's name (`brg:avx512_core`).
        case oneDNN(implementation: String)

        public var usesOneDNN: Bool { if case .oneDNN = self { true } else { false } }
    }

    /// The measured rule for float32 layer products. `implementation` is what oneDNN chose for a
    /// probe f32 matmul; `override` is `ECLIPSE_F32_ENGINE` (`onednn` or `openblas`).
    ///
    /// Measured on one core at the encoders' shapes (400-1028 rows x 768-3072): AMD Zen 4 oneDNN
    /// `brg:avx512_core` 101-110 GFLOP/s against OpenBLAS Cooperlake 87-100 (2026-12-08); Intel
    /// Emerald Rapids equal (180 against SkylakeX 137-219, 2026-12-07). So AVX-512 CPUs take
    /// oneDNN's f32 matmul for the transformer layers; the rest keep OpenBLAS.
    public static func f32Choice(cpu: CPU, implementation: String?, override: String?) -> F32Engine {
        guard let implementation else { return .openBLAS }
        switch override {
        case "onednn": return .oneDNN(implementation: implementation)
        case "openblas": return .openBLAS
        default: break
        }
        return cpu.avx512 && implementation.hasPrefix("brg:avx512_core") ? .oneDNN(implementation: implementation) : .openBLAS
    }

    /// oneDNN's implementation for a probe f32 matmul on this CPU, or nil when it has none.
    public static let f32Implementation: String? = {
        var name = [CChar](repeating: 0, count: 128)
        return me_f32_probe(&name, name.count) != 0 ? text(name) : nil
    }()

    /// This process's float32 engine for the models' layer products, chosen once by
    /// ``f32Choice(cpu:implementation:override:)``.
    public static let f32: F32Engine = {
        let override = getenv("ECLIPSE_F32_ENGINE").map { String(cString: $0) }
        return f32Choice(cpu: .host, implementation: f32Implementation, override: override)
    }()

    /// This process's bfloat16 engine, chosen once by ``bf16Choice(cpu:implementation:override:)``.
    public static let bf16: BF16Engine = {
        let override = getenv("ECLIPSE_BF16_ENGINE").map { String(cString: $0) }
        return bf16Choice(cpu: .host, implementation: bf16Implementation, override: override)
    }()

    /// A C string filled into `buffer`.
    static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The implementation oneDNN chose for the last primitive this thread created.
    static var lastImplementation: String { String(cString: me_last_impl()) }

}

extension MatrixEngines {
    /// Measured rates on random data (a matrix engine may run faster on zeros), best of `tries`.
    public struct Rates: Sendable {
        /// GFLOP/s of float32 sgemm on OpenBLAS, of oneDNN's f32 matmul and of its bf16 matmul (nil
        /// where it has none).
        public let f32: Double, oneDNNf32: Double?, bf16: Double?
    }

    /// The f32 and bf16 engines' rates at m × k × n (default 2048³) with the current BLAS thread count.
    public static func rates(m: Int = 2048, k: Int = 2048, n: Int = 2048, tries: Int = 3) -> Rates {
        var random = SplitMix64(seed: 1)
        let a = (0..<(m * k)).map { _ in random.nextUnit() - 0.5 }, w = (0..<(n * k)).map { _ in random.nextUnit() - 0.5 }
        let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
        defer { c.deallocate() }
        let flops = 2 * Double(m) * Double(n) * Double(k)
        func best(_ body: () -> Void) -> Double {
            body()
            var fastest = Double.infinity
            for _ in 0..<tries {
                let clock = ContinuousClock(), start = clock.now
                body()
                fastest = min(fastest, (clock.now - start) / .seconds(1))
            }
            return flops / fastest / 1e9
        }
        let f32 = best {
            a.withUnsafeBufferPointer { ap in w.withUnsafeBufferPointer { wp in
                BLAS.gemm(m: m, n: n, k: k, a: ap.baseAddress!, lda: k, transposeA: false, b: wp.baseAddress!, ldb: k,
                          transposeB: true, beta: 0, c: c, ldc: n)
            } }
        }
        var oneDNNf32: Double?
        if f32Implementation != nil, let weights = try? EngineWeights(f32: w, outputs: n, inputs: k) {
            oneDNNf32 = best { a.withUnsafeBufferPointer { weights.multiply($0.baseAddress!, rows: m, inputs: k, into: c, bias: nil, accumulate: false) } }
        }
        guard bf16Implementation != nil else { return Rates(f32: f32, oneDNNf32: oneDNNf32, bf16: nil) }
        var wb = [UInt16](repeating: 0, count: w.count), ab = [UInt16](repeating: 0, count: a.count)
        w.withUnsafeBufferPointer { BF16.convert($0.baseAddress!, count: w.count, into: &wb) }
        a.withUnsafeBufferPointer { BF16.convert($0.baseAddress!, count: a.count, into: &ab) }
        guard let weights = try? EngineWeights(bf16: wb, outputs: n, inputs: k) else { return Rates(f32: f32, oneDNNf32: oneDNNf32, bf16: nil) }
        let bf16 = best { ab.withUnsafeBufferPointer { weights.multiply($0.baseAddress!, rows: m, inputs: k, into: c, bias: nil, accumulate: false) } }
        return Rates(f32: f32, oneDNNf32: oneDNNf32, bf16: bf16)
    }
}
