import Foundation
import PipelineTestSupport
import Testing
@testable import Text

/// ftfy 6.3's mojibake repair, as open_clip's `basic_clean` runs it (`ftfy.fix_text`).
@Suite struct MojibakeTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/mojibake_fixture.jsonl").path

    /// (input, ftfy's output) pairs of a JSON-lines file.
    static func pairs(_ path: String) throws -> [(text: String, fixed: String)] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
            return (object["text"]!, object["fixed"]!)
        }
    }

    /// Compares `fixText` with ftfy's output; returns the mismatches.
    static func mismatches(_ pairs: [(text: String, fixed: String)]) throws -> [String] {
        let cleaner = try TextCleaner()
        return pairs.filter { cleaner.fixText($0.text) != $0.fixed }.map { pair in
            "\(pair.text.debugDescription) -> \(cleaner.fixText(pair.text).debugDescription), ftfy \(pair.fixed.debugDescription)"
        }
    }

    @Test func fixTextMatchesFtfyOnTheFixture() throws {
        let pairs = try Self.pairs(Self.fixture)
        #expect(pairs.count >= 2000)
        #expect(pairs.filter { $0.text != $0.fixed }.count >= 1500, "mostly broken strings")
        let wrong = try Self.mismatches(pairs)
        print("mojibake fixture: \(pairs.count - wrong.count) of \(pairs.count) strings equal to ftfy.fix_text")
        #expect(wrong.isEmpty, "\(wrong.count) differ:\n\(wrong.prefix(15).joined(separator: "\n"))")
    }

    @Test func knownRepairs() throws {
        let cleaner = try TextCleaner()
        #expect(cleaner.fixText("rÃ©sumÃ©") == "résumé")
        #expect(cleaner.fixText("itâ€™s") == "it's", "repaired, then the curly quote uncurled")
        #expect(cleaner.fixText("voilÃ le travail") == "voilà le travail", "byte A0 that became a space")
        #expect(cleaner.fixText("â€œ like this â€\u{FFFD}") == "\" like this \u{FFFD}", "a lost byte")
        #expect(cleaner.fixText("ГўВЂВњquotedГўВЂВќ") == "\"quoted\"", "twice over, through Windows-1251")
        #expect(cleaner.fixText("a cafÃ© and a real café") == "a café and a real café", "embedded in good text")
        #expect(cleaner.fixText("naïve café, 10€, ¿qué?") == "naïve café, 10€, ¿qué?", "good text stays")
        // The tokenizer sees the repaired text, as open_clip's does.
        let tokenizer = try CLIPTokenizer()
        #expect(tokenizer.tokenize("rÃ©sumÃ© itâ€™s").ids == tokenizer.tokenize("résumé it's").ids)
    }

    /// Real text broken the same ways, checked against ftfy live: the non-ASCII sentences of
    /// UD English-EWT train and dev (web text), through the fixture script with `--lines`.
    @Test func fixTextMatchesFtfyOnRealText() throws {
        let ewt = ["train", "dev"].map { ReferencePython.repository + "/../shared/data/ud-ewt/en_ewt-ud-\($0).conllu" }
        guard ewt.allSatisfy({ FileManager.default.fileExists(atPath: $0) }) else {
            SkippedCheck.report("ftfy on real text", cause: .sharedData, because: "no \(ewt[0])"); return
        }
        if let missing = ReferencePython.missing(["ftfy"]) {
            SkippedCheck.report("ftfy on real text", cause: .package, because: missing); return
        }
        let dir = TemporaryDirectory("mojibake-real")
        let sentences = try ewt.map { try String(contentsOfFile: $0, encoding: .utf8) }.joined(separator: "\n").split(separator: "\n")
            .filter { $0.hasPrefix("# text = ") && $0.unicodeScalars.contains { $0.value > 0x7F } }
            .map { String($0.dropFirst("# text = ".count)) }
        #expect(sentences.count >= 40)
        try sentences.joined(separator: "\n").write(toFile: dir.appending("lines.txt"), atomically: true, encoding: .utf8)
        let run = ReferencePython.run([ReferencePython.repository + "/Tests/TextTests/Fixtures/make_mojibake_fixture.py",
                                       dir.appending("real.jsonl"), "--lines", dir.appending("lines.txt")])
        #expect(run.status == 0, "\(run.output)")
        let pairs = try Self.pairs(dir.appending("real.jsonl"))
        #expect(pairs.count >= 500)
        let wrong = try Self.mismatches(pairs)
        print("mojibake on EWT sentences: \(pairs.count - wrong.count) of \(pairs.count) strings equal to ftfy.fix_text")
        #expect(wrong.isEmpty, "\(wrong.count) differ:\n\(wrong.prefix(15).joined(separator: "\n"))")
    }
}
