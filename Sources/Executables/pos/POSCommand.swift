import ArgumentParser
import Foundation
import Text

/// `pos`: UPOS tags of pre-tokenised text; `pos --train` derives the tagger from a treebank;
/// `pos --score` measures it on one.
@main
struct POSCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pos",
        abstract: "Tag words (one per line, blank line between sentences) with Universal POS tags.",
        discussion: "Output: word<TAB>UPOS per line, same layout. --score FILE.conllu prints accuracy; --train derives the tagger." + "\n\n" + "Exit status: 0 done; 64 bad command line; 1 anything else (an unreadable or bad input, I/O).")

    @Argument(help: "Input file (default: standard input).") var file: String?
    @Option(help: "Score the tagger on a CoNLL-U file (cased and lower-cased).") var score: String?
    @Option(help: "Time tagging the words of a CoNLL-U file in this process on 1 and 2 threads (best of three windows), cased and lower-cased.")
    var bench: String?
    @Option(help: "Derive a tagger from this CoNLL-U training file and write it to --output.") var train: String?
    @Option(help: "Where --train writes the tagger file.") var output: String?
    @Option(help: "Tagger file (default: the built-in one).") var tagger: String?
    @Option(help: "Rules to learn per rule set (cased, caseless) with --train.") var maxRules = 400
    @Option(help: "With --train, stop when the best rule fixes fewer net errors than this.") var minGain = 3
    @Flag(inversion: .prefixedNo, help: "With --train, let rules give a known word the parts of speech WordNet gives it too.")
    var widen = true
    @Option(help: "WordNet database folder whose index files guess unknown words with --train (empty: none).")
    var wordnet = "/usr/share/wordnet"

    func run() throws {
        if let train {
            guard let output else { throw ValidationError("--train needs --output") }
            let sentences = POSTagger.readCoNLLU(try String(contentsOfFile: train, encoding: .utf8))
            let guesses = wordnet.isEmpty ? [:] : try POSTagger.wordNet(directory: wordnet)
            let learned = POSTagger.train(sentences: sentences, maxRules: maxRules, minGain: minGain, widen: widen, wordnet: guesses.mapValues(\.best),
                                          wordnetParts: guesses.mapValues(\.all)) { print($0) }
            try learned.serialized().write(toFile: output, atomically: true, encoding: .utf8)
            print("wrote \(output)")
            return
        }
        let model = try tagger.map { try POSTagger(serialized: String(contentsOfFile: $0, encoding: .utf8)) } ?? POSTagger.bundled()
        if let bench {
            let sentences = POSTagger.readCoNLLU(try String(contentsOfFile: bench, encoding: .utf8))
            for lowered in [false, true] {
                let words = sentences.map { s in s.map { lowered ? $0.word.lowercased() : $0.word } }
                let tokens = words.reduce(0) { $0 + $1.count }
                for threads in [1, 2] {
                    // The best of three windows of at least 0.7 s (the benchmark takes NLTK's best of three).
                    var best: (passes: Int, elapsed: Double) = (0, .infinity)
                    for _ in 0..<3 {
                        let clock = ContinuousClock(), start = clock.now
                        var passes = 0
                        repeat {
                            // Each thread tags an interleaved share of the sentences.
                            DispatchQueue.concurrentPerform(iterations: threads) { k in
                                var count = 0
                                for i in stride(from: k, to: words.count, by: threads) { count += model.tag(words[i]).count }
                                precondition(count > 0)
                            }
                            passes += 1
                        } while clock.now - start < .milliseconds(700)
                        let elapsed = (clock.now - start) / .seconds(1)
                        if Double(passes) / elapsed > Double(best.passes) / best.elapsed { best = (passes, elapsed) }
                    }
                    print(String(format: "%@, %d thread%@: %d tokens x %d passes in %.2f s: %.0f tokens/s",
                                 lowered ? "lower-cased" : "cased", threads, threads == 1 ? "" : "s", tokens, best.passes, best.elapsed,
                                 Double(tokens * best.passes) / best.elapsed))
                }
            }
            return
        }
        if let score {
            let sentences = POSTagger.readCoNLLU(try String(contentsOfFile: score, encoding: .utf8))
            for lowered in [false, true] {
                let s = POSTaggerScore.score(model, sentences, lowerCased: lowered)
                print(String(format: "%@: %d tokens, UPOS accuracy %.4f, NOUN+PROPN F1 %.4f",
                             lowered ? "lower-cased" : "cased", s.tokens, s.accuracy, s.nounF1))
            }
            return
        }
        let text = try file.map { try String(contentsOfFile: $0, encoding: .utf8) }
            ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        var out = ""
        var sentence: [String] = []
        func flush() {
            guard !sentence.isEmpty else { return }
            for (w, t) in zip(sentence, model.tag(sentence)) { out += "\(w)\t\(t)\n" }
            sentence = []
        }
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let word = line.trimmingCharacters(in: .whitespaces)
            if word.isEmpty { flush(); out += "\n" } else { sentence.append(word) }
        }
        flush()
        print(out, terminator: "")
    }
}
