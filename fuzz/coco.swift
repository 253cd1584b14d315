// libFuzzer target: COCO RLE strings, counts and polygons decoded into masks.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCOCO(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let width = Int(bytes[0] % 64), height = Int(bytes[1] % 64)
    let rest = Array(bytes[2...])
    let text = String(decoding: rest, as: UTF8.self)
    _ = try? COCOMask.mask(.rleString(text, height: height, width: width), width: width, height: height)
    let counts = rest.map { Int($0) }
    _ = try? COCOMask.mask(.rleCounts(counts, height: height, width: width), width: width, height: height)
    let polygon = rest.map { Double($0) - 64 }
    _ = try? COCOMask.mask(.polygons([polygon]), width: width, height: height)
    return 0
}
