import Foundation
import Testing
@testable import Tensor

/// bfloat16 conversions and the bf16-held linear layer.
@Suite struct BF16Tests {
    static func bits(_ v: Float) -> UInt16 {
        var x = v, out: UInt16 = 0
        BF16.convert(&x, count: 1, into: &out)
        return out
    }

    @Test func conversionRoundsToNearestEven() {
        // 1 + 2^-8 is halfway between 1 and 1 + 2^-7: ties go to the even mantissa (1).
        #expect(Self.bits(1 + 0x1p-8) == 0x3F80)
        // 1 + 3·2^-8 is halfway between 1 + 2^-7 and 1 + 2^-6: ties go to even (1 + 2^-6).
        #expect(Self.bits(1 + 3 * 0x1p-8) == 0x3F82)
        #expect(Self.bits(1 + 0x1p-8 + 0x1p-20) == 0x3F81)  // above halfway: up
        #expect(Self.bits(-2.5) == 0xC020)
        #expect(Self.bits(.infinity) == 0x7F80 && Self.bits(-.infinity) == 0xFF80)
        #expect(Self.bits(.greatestFiniteMagnitude) == 0x7F80)  // rounds up to infinity, as RNE does
        let nan = Self.bits(.nan)
        #expect(nan & 0x7F80 == 0x7F80 && nan & 0x7F != 0)
        var widened: Float = 0
        var b: UInt16 = 0x4049
        BF16.widen(&b, count: 1, into: &widened)
        #expect(widened == 3.140625)
        var values: [Float] = [1 + 0x1p-8, 3.14159265, -0.0]
        values.withUnsafeMutableBufferPointer { BF16.round($0.baseAddress!, count: 3) }
        #expect(values[0] == 1 && values[1] == 3.140625 && values[2] == 0 && values[2].sign == .minus)
    }

    /// The bf16 layer equals the products of the bfloat16-rounded inputs and weights summed in
    /// double (to float32's accumulation error), across several weight blocks, with and without
    /// bias, and into an accumulator; and it differs from the float32 layer.
    @Test func linearEqualsTheRoundedProducts() {
        var state: UInt64 = 9
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(state >> 40) % 20001 - 10000) / 10000
        }
        let (rows, inputs, outputs) = (3, 8192, 300)  // blocks of 128 weight rows
        let x = (0..<(rows * inputs)).map { _ in next() }
        let w = (0..<(outputs * inputs)).map { _ in next() }
        let bias = (0..<outputs).map { _ in next() }
        var held = [UInt16](repeating: 0, count: w.count)
        w.withUnsafeBufferPointer { wb in held.withUnsafeMutableBufferPointer { BF16.convert(wb.baseAddress!, count: w.count, into: $0.baseAddress!) } }
        func rounded(_ v: [Float]) -> [Double] {
            var r = v
            r.withUnsafeMutableBufferPointer { BF16.round($0.baseAddress!, count: $0.count) }
            return r.map(Double.init)
        }
        let xr = rounded(x), wr = rounded(w)
        var expected = [Double](repeating: 0, count: rows * outputs)
        for r in 0..<rows {
            for o in 0..<outputs {
                var s = Double(bias[o])
                for i in 0..<inputs { s += xr[r * inputs + i] * wr[o * inputs + i] }
                expected[r * outputs + o] = s
            }
        }
        let (out, plain) = held.withUnsafeBufferPointer { hb in
            bias.withUnsafeBufferPointer { bb in
                w.withUnsafeBufferPointer { wb in
                    (LayerOps.linear(x, rows: rows, inputs: inputs, weight: .bf16(hb.baseAddress!), bias: bb.baseAddress!, outputs: outputs),
                     LayerOps.linear(x, rows: rows, inputs: inputs, weight: .f32(wb.baseAddress!), bias: bb.baseAddress!, outputs: outputs))
                }
            }
        }
        let worst = zip(out, expected).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 2e-3, "largest difference \(worst) on sums of 8,192 products")
        #expect(zip(out, plain).contains { $0 != $1 }, "the bf16 layer gave the float32 layer's numbers")
        var acc = [Float](repeating: 1, count: rows * outputs)
        held.withUnsafeBufferPointer { hb in
            LayerOps.addLinear(x, rows: rows, inputs: inputs, weight: .bf16(hb.baseAddress!), bias: nil, outputs: outputs, into: &acc)
        }
        let worstAdded = zip(acc, zip(expected, bias)).map { abs(Double($0) - ($1.0 - Double($1.1) + 1)) }.max()!
        #expect(worstAdded < 2e-3)
    }
}
