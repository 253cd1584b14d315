import ArgumentParser
import Foundation
import Text

/// `tokenize`: CLIP token ids of captions, one JSON line per caption.
@main
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "CLIP BPE token ids of captions (one per line), as open_clip's tokenizer gives them.",
        discussion: "Writes {\"ids\": [...77], \"attention_mask\": [...77]} per input line." + "\n\n" + "Exit status: 0 done; 64 bad command line; 1 anything else (an unreadable or bad input, I/O).")

    @Argument(help: "A file with one caption per line (default: standard input).") var file: String?
    @Option(help: "A tokenizer: a Hugging Face directory (vocab.json + merges.txt) or a bpe_simple_vocab_16e6.txt.")
    var tokenizer: String?
    @Option(help: "Context length.") var contextLength = 77

    func run() throws {
        let tok = try tokenizer.map { try CLIPTokenizer(directory: $0, contextLength: contextLength) }
            ?? CLIPTokenizer(contextLength: contextLength)
        let handle: FileHandle
        if let file {
            guard let h = FileHandle(forReadingAtPath: file) else { throw ValidationError("cannot read \(file)") }
            handle = h
        } else {
            handle = FileHandle.standardInput
        }
        var buffer = Data()
        var output = ""
        func emit(_ line: Data) {
            var bytes = Array(line)
            if bytes.last == 0x0D { bytes.removeLast() }
            let caption = String(decoding: bytes, as: UTF8.self)
            let (ids, mask) = tok.tokenize(caption)
            output += "{\"ids\":[" + ids.map(String.init).joined(separator: ",") + "],\"attention_mask\":["
                + mask.map(String.init).joined(separator: ",") + "]}\n"
            if output.utf8.count > 1 << 16 { FileHandle.standardOutput.write(Data(output.utf8)); output = "" }
        }
        while true {
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty { break }
            buffer.append(chunk)
            while let newline = buffer.firstIndex(of: 0x0A) {
                emit(buffer[buffer.startIndex..<newline])
                buffer.removeSubrange(buffer.startIndex...newline)
            }
        }
        if !buffer.isEmpty { emit(buffer) }
        FileHandle.standardOutput.write(Data(output.utf8))
    }
}
