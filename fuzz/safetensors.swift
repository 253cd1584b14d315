import Foundation

// libFuzzer target: the safetensors header validation (the JSON header of a checkpoint).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSafetensors(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let dataBytes = Int(data[0]) * 64
    _ = try? SafetensorsFile.parseHeader(Data(bytes: data + 1, count: size - 1), dataBytes: dataBytes)
    return 0
}
