import BuildSupport
@testable import Pipeline
import Testing

@Suite struct SHA256Tests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
    ])
    func knownVectors(input: String, digest: String) {
        #expect(SHA256.hex(Array(input.utf8)) == digest)
    }

    @Test func millionAsInUnevenChunks() {
        var h = SHA256()
        var remaining = 1_000_000
        var chunk = 1
        while remaining > 0 {
            let n = min(chunk, remaining)
            h.update([UInt8](repeating: 0x61, count: n))
            remaining -= n
            chunk = chunk * 3 % 1000 + 1
        }
        #expect(h.finalize().hex == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func stringAndBytesAgree() {
        var a = SHA256()
        a.update([1, 2, 3])
        a.update("mug ☕")
        var b = SHA256()
        b.update([1, 2, 3] + Array("mug ☕".utf8))
        #expect(a.finalize() == b.finalize())
    }
}
