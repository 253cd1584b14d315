import Foundation

/// The data files shipped with the Text module, for fingerprinting what a stage used.
public enum TextResources {
    /// The bytes of the bundled tagger and vocabulary files, in a fixed order.
    public static func bundledBytes() throws -> [UInt8] {
        var out: [UInt8] = []
        for (name, ext) in [("pos-tagger", "tsv"), ("clip-bpe-merges", "txt"), ("html-entities", "tsv")] {
            guard let url = Bundle.module.url(forResource: name, withExtension: ext),
                  let data = try? Data(contentsOf: url) else {
                throw TextError.missingResource("\(name).\(ext)")
            }
            out += Array(data)
        }
        return out
    }

    /// The bytes of a model's tokenizer files (those ``CLIPTokenizer/init(directory:contextLength:)``
    /// reads), in a fixed order.
    public static func tokenizerBytes(directory: String) -> [UInt8] {
        var out: [UInt8] = []
        let candidates = directory.hasSuffix(".txt") || directory.hasSuffix(".gz") ? [directory]
            : ["vocab.json", "merges.txt", "special_tokens_map.json", "tokenizer_config.json",
               "bpe_simple_vocab_16e6.txt", "bpe_simple_vocab_16e6.txt.gz"].map { directory + "/" + $0 }
        for path in candidates {
            if let data = FileManager.default.contents(atPath: path) { out += Array(data) }
        }
        return out
    }
}
