import Foundation
import Testing
@testable import Text

@Suite struct POSTaggerTests {
    static let dev = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../../shared/data/ud-ewt/en_ewt-ud-dev.conllu").standardizedFileURL.path

    @Test func taggesSimpleCaptions() throws {
        let tagger = try POSTagger.bundled()
        let tags = tagger.tag(["a", "red", "mug", "next", "to", "a", "green", "ball"])
        #expect(tags[0] == "DET" && tags[1] == "ADJ" && tags[2] == "NOUN" && tags[4] == "ADP" && tags[7] == "NOUN")
        #expect(tagger.tag(["the", "dog", "is", "running", "on", "the", "beach", "."]).contains("VERB"))
    }

    @Test func serializationRoundTrips() throws {
        let tagger = try POSTagger.bundled()
        let again = try POSTagger(serialized: tagger.serialized())
        let words = ["A", "teddy", "bear", "sits", "on", "the", "sofa", "in", "Paris", "."]
        #expect(again.tag(words) == tagger.tag(words))
        #expect(throws: (any Error).self) { _ = try POSTagger(serialized: "rule\tA\tB\tnope\tx\ty\n") }
    }

    /// The compiled rule engine tags exactly as applying the rules one by one does.
    @Test func compiledRulesEqualRuleByRule() throws {
        let tagger = try POSTagger.bundled()
        #expect(tagger.engine != nil)
        var sentences: [[String]] = [["A", "teddy", "bear", "sits", "on", "the", "sofa", "in", "Paris", "."], ["x"], []]
        if let text = try? String(contentsOfFile: Self.dev, encoding: .utf8) {
            sentences += POSTagger.readCoNLLU(text).prefix(600).map { $0.map(\.word) }
        }
        sentences += sentences.map { $0.map { $0.lowercased() } }
        for words in sentences { #expect(tagger.tag(words) == tagger.tagUncompiled(words), "\(words)") }
    }

    @Test func learnsRulesThatFixErrors() {
        // "fly" is mostly a NOUN in the lexicon; a rule must learn that it is a VERB after "to".
        var sentences: [POSTagger.TaggedSentence] = []
        for _ in 0..<20 { sentences.append([("a", "DET"), ("fly", "NOUN"), ("buzzes", "VERB")]) }
        for _ in 0..<8 { sentences.append([("birds", "NOUN"), ("want", "VERB"), ("to", "PART"), ("fly", "VERB")]) }
        let tagger = POSTagger.train(sentences: sentences, maxRules: 5, minGain: 2)
        #expect(tagger.tag(["birds", "want", "to", "fly"]) == ["NOUN", "VERB", "PART", "VERB"])
        #expect(tagger.tag(["a", "fly", "buzzes"]) == ["DET", "NOUN", "VERB"])
    }

    /// Regression floor for the shipped tagger on EWT dev (the targets, 0.93 accuracy and
    /// 0.96 NOUN+PROPN F1, are not reached yet; see the closing note).
    @Test func accuracyOnEWTDevWhenPresent() throws {
        guard FileManager.default.fileExists(atPath: Self.dev) else {
            print("skipped: ../shared/data/ud-ewt is absent")
            return
        }
        let sentences = POSTagger.readCoNLLU(try String(contentsOfFile: Self.dev, encoding: .utf8))
        let tagger = try POSTagger.bundled()
        let cased = POSTaggerScore.score(tagger, sentences, lowerCased: false)
        let lower = POSTaggerScore.score(tagger, sentences, lowerCased: true)
        print(String(format: "EWT dev: cased %.4f (noun F1 %.4f), lower-cased %.4f (noun F1 %.4f)",
                     cased.accuracy, cased.nounF1, lower.accuracy, lower.nounF1))
        #expect(cased.tokens == 25147)
        // Measured with the shipped file: cased 0.9336 (F1 0.9526), lower-cased 0.9219 (F1 0.9496).
        #expect(cased.accuracy >= 0.933 && lower.accuracy >= 0.921)
        #expect(cased.nounF1 >= 0.952 && lower.nounF1 >= 0.949)
    }
}
