import Foundation

/// The CLIP byte-level BPE tokenizer, identical to OpenAI CLIP's / open_clip's
/// `SimpleTokenizer` (and to Hugging Face's `CLIPTokenizer` with ftfy installed): clean the
/// text (``TextCleaner``), split it with CLIP's pattern, map UTF-8 bytes to printable characters,
/// apply the merges, add start 49406 and end 49407, truncate to the context keeping the end
/// token, pad.
public final class CLIPTokenizer: @unchecked Sendable {
    // @unchecked: the tables are immutable after init; the BPE cache is guarded by `lock`.
    public let contextLength: Int
    /// The id written after the end token: 0 for OpenAI CLIP, the pad token's id for Hugging
    /// Face tokenizers that name one (laion/CLIP-ViT-bigG-14).
    public let padID: Int
    public let startID: Int
    public let endID: Int
    let encoder: [String: Int]
    let ranks: [String: Int]
    let cleaner: TextCleaner
    private var cache: [String: [Int]] = [:]
    private let lock = NSLock()

    /// The vocabulary shipped with the project (OpenAI CLIP's 49,408 tokens), padding with 0.
    public convenience init(contextLength: Int = 77) throws {
        guard let url = Bundle.module.url(forResource: "clip-bpe-merges", withExtension: "txt"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TextError.missingResource("clip-bpe-merges.txt")
        }
        try self.init(merges: Self.parseMerges(text), vocabulary: nil, padID: 0, contextLength: contextLength)
    }

    /// A tokenizer from a model's files: a Hugging Face directory (`vocab.json` + `merges.txt`,
    /// pad token from `special_tokens_map.json` or `tokenizer_config.json`), or a merges file in
    /// OpenAI's `bpe_simple_vocab_16e6.txt` layout, plain or gzip-compressed (`.txt.gz`, as
    /// openai/CLIP and open_clip ship it): the directory holding it or the file itself.
    public convenience init(directory: String, contextLength: Int = 77) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: directory + "/vocab.json") && fm.fileExists(atPath: directory + "/merges.txt") {
            guard let vocabData = fm.contents(atPath: directory + "/vocab.json"),
                  let vocab = try JSONSerialization.jsonObject(with: vocabData) as? [String: Int],
                  let mergesText = try? String(contentsOfFile: directory + "/merges.txt", encoding: .utf8) else {
                throw TextError.badTokenizerFiles("vocab.json or merges.txt is unreadable")
            }
            var pad = 0
            for file in ["special_tokens_map.json", "tokenizer_config.json"] {
                guard let data = fm.contents(atPath: directory + "/" + file),
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { continue }
                let token = (object["pad_token"] as? String) ?? ((object["pad_token"] as? [String: Any])?["content"] as? String)
                if let token, let id = vocab[token] { pad = id; break }
            }
            try self.init(merges: Self.parseMerges(mergesText), vocabulary: vocab, padID: pad, contextLength: contextLength)
            return
        }
        var plain = directory.hasSuffix(".txt") || directory.hasSuffix(".gz") ? directory : directory + "/bpe_simple_vocab_16e6.txt"
        if !fm.fileExists(atPath: plain) && fm.fileExists(atPath: plain + ".gz") { plain += ".gz" }
        guard let data = fm.contents(atPath: plain) else {
            throw TextError.badTokenizerFiles("no vocab.json + merges.txt and no \(plain)")
        }
        let bytes = plain.hasSuffix(".gz") ? try Gzip.decompress(Array(data)) : Array(data)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw TextError.badTokenizerFiles("\(plain) is not UTF-8")
        }
        var merges = Self.parseMerges(text)
        merges = Array(merges.prefix(49152 - 256 - 2))
        try self.init(merges: merges, vocabulary: nil, padID: 0, contextLength: contextLength)
    }

    /// Merge pairs from a merges file (a `#version` header line is skipped).
    static func parseMerges(_ text: String) -> [(String, String)] {
        text.split(separator: "\n", omittingEmptySubsequences: true).compactMap { line in
            if line.hasPrefix("#version") || line.hasPrefix("\"bpe_simple_vocab") { return nil }
            let parts = line.split(separator: " ")
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        }
    }

    init(merges: [(String, String)], vocabulary: [String: Int]?, padID: Int, contextLength: Int) throws {
        guard contextLength >= 2 else { throw TextError.badTokenizerFiles("context length must be at least 2") }
        self.contextLength = contextLength
        self.padID = padID
        cleaner = try TextCleaner()
        var ranks: [String: Int] = [:]
        for (i, m) in merges.enumerated() where ranks[m.0 + " " + m.1] == nil { ranks[m.0 + " " + m.1] = i }
        self.ranks = ranks
        if let vocabulary {
            encoder = vocabulary
        } else {
            // The byte characters in the table's construction order (printable bytes first).
            var vocab = Self.byteOrder.map { String(Self.byteEncoder[$0]) }
            vocab += vocab.map { $0 + "</w>" }
            vocab += merges.map { $0.0 + $0.1 }
            vocab += ["<|startoftext|>", "<|endoftext|>"]
            var encoder: [String: Int] = [:]
            for (i, token) in vocab.enumerated() { encoder[token] = i }
            self.encoder = encoder
        }
        guard let start = encoder["<|startoftext|>"] ?? encoder["<start_of_text>"],
              let end = encoder["<|endoftext|>"] ?? encoder["<end_of_text>"] else {
            throw TextError.badTokenizerFiles("the vocabulary has no start/end tokens")
        }
        startID = start
        endID = end
    }

    /// Bytes in the order `bytes_to_unicode` lists them: printable ones first, then the rest.
    static let byteOrder: [Int] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        for b in 0..<256 where !bs.contains(b) { bs.append(b) }
        return bs
    }()

    /// GPT-2/CLIP's reversible byte-to-character table.
    static let byteEncoder: [Character] = {
        var bs = Array(33...126) + Array(161...172) + Array(174...255)
        var cs = bs
        var n = 0
        for b in 0..<256 where !bs.contains(b) {
            bs.append(b)
            cs.append(256 + n)
            n += 1
        }
        var table = [Character](repeating: " ", count: 256)
        for (b, c) in zip(bs, cs) { table[b] = Character(Unicode.Scalar(UInt32(c))!) }
        return table
    }()

    /// Token ids of a caption without start/end tokens.
    public func encode(_ text: String) -> [Int] {
        var ids: [Int] = []
        for piece in Self.split(cleaner.clean(text)) { ids += bpe(piece) }
        return ids
    }

    /// `[start] + encode + [end]`, truncated to the context (end token kept), padded.
    /// - Returns: ids and attention mask, both `contextLength` long.
    public func tokenize(_ text: String) -> (ids: [Int], attentionMask: [Int]) {
        var ids = [startID] + encode(text) + [endID]
        if ids.count > contextLength {
            ids = Array(ids.prefix(contextLength))
            ids[contextLength - 1] = endID
        }
        let mask = [Int](repeating: 1, count: ids.count) + [Int](repeating: 0, count: contextLength - ids.count)
        ids += [Int](repeating: padID, count: contextLength - ids.count)
        return (ids, mask)
    }

    /// The special tokens open_clip's pattern recognises inside text.
    static let specialTokens = ["<start_of_text>", "<end_of_text>"]

    /// CLIP's pre-tokenisation pattern on cleaned text (open_clip 3):
    /// `<start_of_text>|<end_of_text>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+`.
    static func split(_ text: String) -> [String] {
        let u = Array(text.unicodeScalars)
        var pieces: [String] = []
        var i = 0
        func isLetter(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return false
            }
        }
        func isNumber(_ c: Unicode.Scalar) -> Bool {
            switch c.properties.generalCategory {
            case .decimalNumber, .letterNumber, .otherNumber: return true
            default: return false
            }
        }
        func piece(_ r: Range<Int>) -> String { String(String.UnicodeScalarView(u[r])) }
        func hasPrefix(_ s: String, at i: Int) -> Bool {
            let p = Array(s.unicodeScalars)
            guard i + p.count <= u.count else { return false }
            for k in 0..<p.count where String(u[i + k]).lowercased() != String(p[k]) { return false }
            return true
        }
        while i < u.count {
            let c = u[i]
            if TextCleaner.isSpace(c) { i += 1; continue }
            if c == "<", let special = specialTokens.first(where: { hasPrefix($0, at: i) }) {
                pieces.append(piece(i..<(i + special.unicodeScalars.count)))
                i += special.unicodeScalars.count
                continue
            }
            if c == "'", let contraction = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"].first(where: { hasPrefix($0, at: i) }) {
                let n = contraction.unicodeScalars.count
                pieces.append(piece(i..<(i + n)))
                i += n
                continue
            }
            if isLetter(c) {
                var j = i + 1
                while j < u.count, isLetter(u[j]) { j += 1 }
                pieces.append(piece(i..<j))
                i = j
                continue
            }
            if isNumber(c) {
                pieces.append(piece(i..<(i + 1)))
                i += 1
                continue
            }
            var j = i + 1
            while j < u.count, !TextCleaner.isSpace(u[j]), !isLetter(u[j]), !isNumber(u[j]) { j += 1 }
            pieces.append(piece(i..<j))
            i = j
        }
        return pieces
    }

    /// Byte-level BPE of one pre-token, cached.
    func bpe(_ piece: String) -> [Int] {
        lock.lock()
        if let hit = cache[piece] { lock.unlock(); return hit }
        lock.unlock()
        if piece == Self.specialTokens[0] { return [startID] }
        if piece == Self.specialTokens[1] { return [endID] }
        var word = Array(piece.utf8).map { String(Self.byteEncoder[Int($0)]) }
        guard !word.isEmpty else { return [] }
        word[word.count - 1] += "</w>"
        while word.count > 1 {
            var best: (rank: Int, index: Int)?
            for k in 0..<(word.count - 1) {
                if let rank = ranks[word[k] + " " + word[k + 1]], rank < (best?.rank ?? Int.max) { best = (rank, k) }
            }
            guard let (_, _) = best else { break }
            let (first, second) = (word[best!.index], word[best!.index + 1])
            var merged: [String] = []
            var k = 0
            while k < word.count {
                if k < word.count - 1 && word[k] == first && word[k + 1] == second {
                    merged.append(first + second)
                    k += 2
                } else {
                    merged.append(word[k])
                    k += 1
                }
            }
            word = merged
        }
        let ids = word.map { encoder[$0] ?? 0 }
        lock.lock()
        if cache.count > 100_000 { cache.removeAll(keepingCapacity: true) }
        cache[piece] = ids
        lock.unlock()
        return ids
    }
}
