import Tensor

/// Every random choice of the sample goes through one (Tensor's SplitMix64 with independent
/// streams), so a seed fixes the whole dataset.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var generator: SplitMix64

    /// A generator for `seed`, optionally split into an independent `stream`.
    public init(seed: UInt64, stream: UInt64 = 0) {
        generator = SplitMix64(seed: seed &+ stream &* 0x9E37_79B9_7F4A_7C15)
        _ = generator.next()
    }

    public mutating func next() -> UInt64 { generator.next() }

    /// A uniform double in [0, 1).
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// A uniform double in `range`.
    public mutating func double(_ range: ClosedRange<Double>) -> Double {
        range.lowerBound + unit() * (range.upperBound - range.lowerBound)
    }

    /// A uniform integer in `range`.
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }

    /// A uniformly chosen element.
    public mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}

/// Deterministic 2-D value noise in [0, 1] for textures.
struct ValueNoise {
    let seed: UInt64

    private func lattice(_ x: Int, _ y: Int) -> Double {
        var h = UInt64(bitPattern: Int64(x)) &* 0x9E37_79B9_7F4A_7C15 ^ UInt64(bitPattern: Int64(y)) &* 0xC2B2_AE3D_27D4_EB4F ^ seed
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        return Double(h & 0xFFFF) / 65535
    }

    /// Smoothly interpolated noise at (x, y) with lattice spacing `scale` pixels.
    func value(_ x: Double, _ y: Double, scale: Double) -> Double {
        let fx = x / scale, fy = y / scale
        let x0 = Int(fx.rounded(.down)), y0 = Int(fy.rounded(.down))
        let tx = fx - Double(x0), ty = fy - Double(y0)
        let sx = tx * tx * (3 - 2 * tx), sy = ty * ty * (3 - 2 * ty)
        let a = lattice(x0, y0) + (lattice(x0 + 1, y0) - lattice(x0, y0)) * sx
        let b = lattice(x0, y0 + 1) + (lattice(x0 + 1, y0 + 1) - lattice(x0, y0 + 1)) * sx
        return a + (b - a) * sy
    }
}
