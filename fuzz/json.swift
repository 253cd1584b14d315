// libFuzzer target: the lenient JSON parser (manifests, COCO files, catalog columns).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJSON(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    if let value = try? JSONValue.parse(bytes) {
        _ = value["a"]?.array?.count
        _ = value.string
    }
    return 0
}
