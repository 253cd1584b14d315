import Foundation

/// Eight-lane float kernels for the elementwise parts of the transformers (exponential, normal
/// CDF) and the softmax and prior kernels built on them (the encoders' activations are in the
/// CKernels C target).
package enum VectorMath {
    /// `e^x` for eight lanes: Cody–Waite reduction and Cephes' degree-6 polynomial (about 1 ulp on
    /// [−87, 88]; inputs are clamped to it).
    @inline(__always)
    package static func exp8(_ x: SIMD8<Float>) -> SIMD8<Float> {
        // Compare-and-blend (SIMD's clamped(lowerBound:upperBound:) goes through pointwiseMin/Max,
        // which are not inlined and run lane by lane).
        var x = x
        let low = SIMD8<Float>(repeating: -87.3), high = SIMD8<Float>(repeating: 88.3)
        x.replace(with: low, where: x .< low)
        x.replace(with: high, where: x .> high)
        // Round x·log2(e) to an integer by adding 1.5·2^23 (no generic SIMD conversions: they are slow).
        let magic = SIMD8<Float>(repeating: 12_582_912)
        let shifted = x * 1.442_695_04 + magic
        let n = shifted - magic
        let r = x - n * 0.693_145_751_953_125 - n * 1.428_606_765_330_187e-6
        var p = SIMD8<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_950_7e-3
        p = p * r + 8.333_451_907_3e-3
        p = p * r + 4.166_579_589_4e-2
        p = p * r + 1.666_666_545_9e-1
        p = p * r + 5.000_000_120_1e-1
        let e = p * (r * r) + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- unsafeBitCast(magic, to: SIMD8<Int32>.self)
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
        return e * scale
    }

    /// The normal CDF Φ(u) and the density term e^{−u²/2} for eight lanes, from one exponential:
    /// erf by Abramowitz & Stegun 7.1.26 (absolute error ≤ 1.5e-7).
    @inline(__always)
    package static func normal8(_ u: SIMD8<Float>) -> (cdf: SIMD8<Float>, gauss: SIMD8<Float>) {
        let bits = unsafeBitCast(u, to: SIMD8<UInt32>.self)
        let x = unsafeBitCast(bits & 0x7FFF_FFFF, to: SIMD8<Float>.self) * 0.707_106_781_186_547_5
        let one = SIMD8<Float>(repeating: 1)
        let t = one / (one + 0.327_591_1 * x)
        var poly = SIMD8<Float>(repeating: 1.061_405_429)
        poly = poly * t - 1.453_152_027
        poly = poly * t + 1.421_413_741
        poly = poly * t - 0.284_496_736
        poly = poly * t + 0.254_829_592
        poly = poly * t
        let gauss = exp8(-(x * x))
        let erfAbs = one - poly * gauss
        // erf is odd: give erf(|x|) the sign of u.
        let erf = unsafeBitCast(unsafeBitCast(erfAbs, to: SIMD8<UInt32>.self) | (bits & 0x8000_0000), to: SIMD8<Float>.self)
        return (SIMD8<Float>(repeating: 0.5) * (one + erf), gauss)
    }

    /// `x[j] = e^(x[j] - shift)` in place; returns the sum.
    package static func expShifted(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        var sum8 = SIMD8<Float>(repeating: 0)
        var i = 0
        while i + 8 <= count {
            let e = exp8(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD8<Float>.self) - shift)
            UnsafeMutableRawPointer(x + i).storeBytes(of: e, as: SIMD8<Float>.self)
            sum8 += e
            i += 8
        }
        var sum = sum8.sum()
        for j in i..<count { let e = expf(x[j] - shift); x[j] = e; sum += e }
        return sum
    }
}
