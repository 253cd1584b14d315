import Foundation
import PipelineTestSupport
import Testing
@testable import Text

@Suite struct CLIPTokenizerTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/clip_tokenizer_fixture.jsonl").path

    @Test func idsMatchOpenCLIPOnTheCaptionFixture() throws {
        let tokenizer = try CLIPTokenizer()
        let text = try String(contentsOfFile: Self.fixture, encoding: .utf8)
        var total = 0, identical = 0
        var firstMismatches: [String] = []
        for line in text.split(separator: "\n") {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let caption = object["caption"] as! String
            let expected = object["ids"] as! [Int]
            let (ids, mask) = tokenizer.tokenize(caption)
            total += 1
            let padded = expected + [Int](repeating: 0, count: 77 - expected.count)
            let expectedMask = expected.map { _ in 1 } + [Int](repeating: 0, count: 77 - expected.count)
            if ids == padded && mask == expectedMask {
                identical += 1
            } else if firstMismatches.count < 12 {
                firstMismatches.append("\(caption.debugDescription): \(ids.prefix(expected.count + 1)) vs \(expected)")
            }
        }
        print("CLIP tokenizer: \(identical) of \(total) captions identical")
        #expect(total >= 2000)
        #expect(identical == total, "\(firstMismatches.joined(separator: "\n"))")
    }

    @Test func knownIdsAndConventions() throws {
        let tokenizer = try CLIPTokenizer()
        #expect(tokenizer.startID == 49406 && tokenizer.endID == 49407 && tokenizer.padID == 0)
        let (ids, mask) = tokenizer.tokenize("a photo of a dog")
        #expect(ids.prefix(7) == [49406, 320, 1125, 539, 320, 1929, 49407])
        #expect(ids.count == 77 && mask.reduce(0, +) == 7)
        let long = tokenizer.tokenize(String(repeating: "dog ", count: 100))
        #expect(long.ids.count == 77 && long.ids[76] == 49407 && long.attentionMask.allSatisfy { $0 == 1 })
    }

    @Test func cleaningFollowsFtfyAndHTML() throws {
        let cleaner = try TextCleaner()
        #expect(cleaner.clean("  “Caf&eacute;”\tﬁne   ＡＢＣ ") == "\"café\" fine abc")
        #expect(cleaner.clean("a &amp;amp; b") == "a & b")
        #expect(cleaner.clean("<b>x</b> &lt;") == "<b>x</b> <")
        #expect(cleaner.clean("e\u{301}") == "é")
    }
}

@Suite struct TokenizerFilesTests {
    @Test func huggingFaceDirectoryAndPadToken() throws {
        let builtIn = try CLIPTokenizer()
        let dir = NSTemporaryDirectory() + "clip-tok-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vocab = try JSONSerialization.data(withJSONObject: builtIn.encoder)
        try vocab.write(to: URL(fileURLWithPath: dir + "/vocab.json"))
        let merges = builtIn.ranks.sorted { $0.value < $1.value }.map(\.key).joined(separator: "\n")
        try ("#version: 0.2\n" + merges + "\n").write(toFile: dir + "/merges.txt", atomically: true, encoding: .utf8)
        try #"{"pad_token": "<|endoftext|>"}"#.write(toFile: dir + "/special_tokens_map.json", atomically: true, encoding: .utf8)
        let hf = try CLIPTokenizer(directory: dir)
        #expect(hf.padID == 49407)
        let a = builtIn.tokenize("a teddy bear on a stop sign"), b = hf.tokenize("a teddy bear on a stop sign")
        #expect(a.attentionMask == b.attentionMask)
        #expect(zip(a.ids, b.ids).allSatisfy { $0 == $1 || ($0 == 0 && $1 == 49407) })
        #expect(b.ids.last == 49407 && a.ids.last == 0)
        #expect(throws: (any Error).self) { _ = try CLIPTokenizer(directory: dir + "/missing") }
    }

    /// OpenAI's layout: `bpe_simple_vocab_16e6.txt.gz` (compressed here with the system gzip),
    /// read from its folder or by name; a corrupt file is refused.
    @Test func gzipMergesFile() throws {
        let builtIn = try CLIPTokenizer()
        let dir = NSTemporaryDirectory() + "clip-gz-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let merges = builtIn.ranks.sorted { $0.value < $1.value }.map(\.key).joined(separator: "\n")
        // The published file has 262,144 merge lines; open_clip reads the first 48,894.
        try ("\"bpe_simple_vocab_16e6.txt#version: 0.2\n" + merges + "\nzz zz\n").write(
            toFile: dir + "/bpe_simple_vocab_16e6.txt", atomically: true, encoding: .utf8)
        #expect(Shell.run("/bin/gzip", ["-9", dir + "/bpe_simple_vocab_16e6.txt"]).status == 0)
        #expect(FileManager.default.fileExists(atPath: dir + "/bpe_simple_vocab_16e6.txt.gz"))
        let caption = "Two corgis & a “teddy bear” on the sofa, 2019!"
        for source in [dir, dir + "/bpe_simple_vocab_16e6.txt.gz"] {
            let tokenizer = try CLIPTokenizer(directory: source)
            #expect(tokenizer.tokenize(caption).ids == builtIn.tokenize(caption).ids)
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: dir + "/bpe_simple_vocab_16e6.txt.gz"))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: dir + "/cut.txt.gz"))
        #expect(throws: (any Error).self) { _ = try CLIPTokenizer(directory: dir + "/cut.txt.gz") }
    }
}
