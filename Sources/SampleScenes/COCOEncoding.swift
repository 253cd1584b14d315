/// COCO run-length encoding of a binary mask, as pycocotools writes it.
public enum COCOEncoding {
    /// Column-major run lengths starting with a run of zeros.
    public static func runLengths(_ mask: (Int, Int) -> Bool, width: Int, height: Int) -> [Int] {
        var counts: [Int] = []
        var current = false
        var run = 0
        for x in 0..<width {
            for y in 0..<height {
                let v = mask(x, y)
                if v != current {
                    counts.append(run)
                    run = 0
                    current = v
                }
                run += 1
            }
        }
        counts.append(run)
        return counts
    }

    /// pycocotools' compressed string form (`rleToString`): deltas from two runs back after the
    /// third, 5-bit little-endian groups with a continuation bit, offset by 48.
    public static func compressedString(_ counts: [Int]) -> String {
        var out: [UInt8] = []
        for (i, count) in counts.enumerated() {
            var x = i > 2 ? count - counts[i - 2] : count
            var more = true
            while more {
                var c = x & 0x1F
                x >>= 5
                more = (c & 0x10) != 0 ? x != -1 : x != 0
                if more { c |= 0x20 }
                out.append(UInt8(c + 48))
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
