import Foundation

/// A rule-based part-of-speech tagger (Universal POS tags) in Brill's style: a lexicon gives each
/// known word its most frequent tag, suffix and shape rules guess unknown words, then contextual
/// transformation rules ("change A to B when the previous tag is C", …) correct the guesses in
/// order. No learned weights: the lexicon and rules are plain text files derived from UD
/// English-EWT train (CC BY-SA 4.0) by ``POSTagger/train(sentences:maxRules:)``.
public struct POSTagger: Sendable {
    /// Word (as written) -> most frequent tag.
    var cased: [String: String] = [:]
    /// Lower-cased word -> most frequent tag.
    var lower: [String: String] = [:]
    /// Lower-cased suffix (1-5 characters) -> most frequent tag of words ending so.
    var suffixes: [String: String] = [:]
    /// Lower-case word -> WordNet's most frequent part of speech, for words the treebank never
    /// saw.
    var wordnet: [String: String] = [:]
    /// Contextual rules, applied in order.
    var rules: [Rule] = [] { didSet { engine = nil } }
    /// The rules compiled (``compile()``); nil until then, when ``tag(_:)`` applies them one by one.
    var engine: RuleEngine?

    /// One transformation: change `from` to `to` where `template` holds with `a` (and `b`).
    struct Rule: Sendable, Hashable {
        var from: String
        var to: String
        var template: Template
        var a: String
        var b: String
    }

    enum Template: String, Sendable, CaseIterable {
        case prevTag, nextTag, prev2Tag, next2Tag, prevNextTag, prevTwoTags, nextTwoTags, prevOrPrev2Tag, nextOrNext2Tag
        case prevWord, nextWord, wordPrevTag, wordNextTag, word, prevWordTag
        case suffixPrevTag, suffixNextTag, prevTagNextWord

        /// The last three characters of a word (suffix templates).
        static func suffix(_ w: String) -> String { String(w.suffix(3)) }

        func matches(_ i: Int, tags: [String], words: [String], a: String, b: String) -> Bool {
            let n = tags.count
            func tag(_ k: Int) -> String { k < 0 ? "<s>" : k >= n ? "</s>" : tags[k] }
            func word(_ k: Int) -> String { k < 0 ? "<s>" : k >= n ? "</s>" : words[k] }
            switch self {
            case .prevTag: return tag(i - 1) == a
            case .nextTag: return tag(i + 1) == a
            case .prev2Tag: return tag(i - 2) == a
            case .next2Tag: return tag(i + 2) == a
            case .prevNextTag: return tag(i - 1) == a && tag(i + 1) == b
            case .prevTwoTags: return tag(i - 1) == a && tag(i - 2) == b
            case .nextTwoTags: return tag(i + 1) == a && tag(i + 2) == b
            case .prevOrPrev2Tag: return tag(i - 1) == a || tag(i - 2) == a
            case .nextOrNext2Tag: return tag(i + 1) == a || tag(i + 2) == a
            case .prevWord: return word(i - 1) == a
            case .nextWord: return word(i + 1) == a
            case .wordPrevTag: return words[i] == a && tag(i - 1) == b
            case .wordNextTag: return words[i] == a && tag(i + 1) == b
            case .word: return words[i] == a
            case .prevWordTag: return word(i - 1) == a && tag(i - 1) == b
            case .suffixPrevTag: return Template.suffix(words[i]) == a && tag(i - 1) == b
            case .suffixNextTag: return Template.suffix(words[i]) == a && tag(i + 1) == b
            case .prevTagNextWord: return word(i + 1) == a && tag(i - 1) == b
            }
        }
    }

    /// The tagger shipped with the module.
    public static func bundled() throws -> POSTagger {
        guard let url = Bundle.module.url(forResource: "pos-tagger", withExtension: "tsv"),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TextError.missingResource("pos-tagger.tsv")
        }
        return try POSTagger(serialized: text)
    }

    /// Tags one pre-tokenised sentence.
    public func tag(_ words: [String]) -> [String] {
        guard let engine else { return tagUncompiled(words) }
        // Lower-case forms: ASCII words without capitals are their own (the common case, no copy).
        let lowered = words.map { w in w.utf8.allSatisfy({ $0 < 0x41 || ($0 > 0x5A && $0 < 0x80) }) ? w : w.lowercased() }
        var caseless = true
        for (w, l) in zip(words, lowered) where w != l { caseless = false; break }
        let n = words.count
        var ids = [UInt8](repeating: 0, count: n + 4), wordIDs = [Int32](repeating: 0, count: n + 4)
        var suffixIDs = [Int32](repeating: -1, count: n + 4)
        ids[n + 2] = 1; ids[n + 3] = 1; wordIDs[n + 2] = 1; wordIDs[n + 3] = 1
        for i in 0..<n {
            let w = words[i], l = lowered[i]
            let exact = engine.lexicon[w]
            let lowerEntry = w == l ? exact : engine.lexicon[l]
            if let e = lowerEntry {
                wordIDs[i + 2] = e.word
                suffixIDs[i + 2] = e.suffix
            } else {
                wordIDs[i + 2] = -1
                suffixIDs[i + 2] = engine.suffixIndex.isEmpty ? -1 : engine.suffixIndex[Template.suffix(l)] ?? -1
            }
            if let e = exact, e.cased != RuleEngine.none {
                ids[i + 2] = e.cased
            } else if let e = lowerEntry, e.lower != RuleEngine.none {
                ids[i + 2] = e.lower
            } else {
                ids[i + 2] = engine.tagIndex[initialTag(w, lowered: l, sentenceStart: i == 0, caseless: caseless)] ?? 63
            }
        }
        engine.run(tags: &ids, words: wordIDs, suffixes: suffixIDs)
        return (0..<n).map { engine.tagNames[Int(ids[$0 + 2])] }
    }

    /// ``tag(_:)`` applying the rules one by one (before ``compile()``; the reference for the
    /// compiled engine).
    func tagUncompiled(_ words: [String]) -> [String] {
        let lowered = words.map { $0.lowercased() }
        let caseless = lowered == words
        var tags = words.indices.map { initialTag(words[$0], lowered: lowered[$0], sentenceStart: $0 == 0, caseless: caseless) }
        for rule in rules { apply(rule, tags: &tags, words: lowered) }
        return tags
    }

    /// Compiles the rules for ``tag(_:)``.
    mutating func compile() {
        let tags = Set(cased.values).union(lower.values).union(suffixes.values).union(wordnet.values)
            .union(["NOUN", "PROPN", "NUM", "X", "SYM", "PUNCT", "VERB", "ADJ", "ADV"])
        engine = RuleEngine(rules: rules, extraTags: tags, cased: cased, lower: lower)
    }

    func apply(_ rule: Rule, tags: inout [String], words: [String]) {
        var changes: [Int] = []
        for i in tags.indices where tags[i] == rule.from && rule.template.matches(i, tags: tags, words: words, a: rule.a, b: rule.b) {
            changes.append(i)
        }
        for i in changes { tags[i] = rule.to }
    }

    /// Lexicon, then shape, then suffix guesses.
    /// - Parameter caseless: the sentence has no capitals, so capitalisation says nothing about
    ///   proper nouns (lower-cased captions).
    func initialTag(_ word: String, lowered: String, sentenceStart: Bool, caseless: Bool = false) -> String {
        if let t = cased[word] { return t }
        let hasUpper = word.unicodeScalars.contains { $0.properties.isUppercase }
        // A capitalised form not seen as such takes its lower-case form's tag (headings, titles).
        if let t = lower[lowered] { return t }
        let scalars = word.unicodeScalars
        if scalars.contains(where: { $0.properties.numericType != nil }) &&
            scalars.allSatisfy({ $0.properties.numericType != nil || ".,:/-%".unicodeScalars.contains($0) }) { return "NUM" }
        if lowered.hasPrefix("http") || lowered.hasPrefix("www.") || lowered.contains("@") && lowered.contains(".") { return "X" }
        if scalars.allSatisfy({ !$0.properties.isAlphabetic && $0.properties.numericType == nil }) {
            return scalars.allSatisfy({ "$%+=<>|^~#*&@".unicodeScalars.contains($0) }) ? "SYM" : "PUNCT"
        }
        if hasUpper && !sentenceStart { return "PROPN" }
        if let t = lower[lowered] { return t }
        if scalars.contains(where: { $0.properties.numericType != nil }) { return "NUM" }
        if let t = wordNetTag(lowered) { return t }
        // In caseless text, a plain word that neither the treebank nor WordNet knows (and that is
        // not a verb form) is most often a lower-cased name.
        if caseless && !wordnet.isEmpty && lowered.count >= 3 && lowered.allSatisfy({ $0.isLetter })
            && !lowered.hasSuffix("ing") && !lowered.hasSuffix("ed") && !lowered.hasSuffix("ly") {
            return "PROPN"
        }
        return suffixGuess(lowered) ?? (hasUpper ? "PROPN" : "NOUN")
    }

    /// The tag of the longest known suffix (1-5 characters, the word itself excluded).
    func suffixGuess(_ lowered: String) -> String? {
        let chars = Array(lowered)
        for k in stride(from: min(5, chars.count - 1), through: 1, by: -1) {
            if let t = suffixes[String(chars[(chars.count - k)...])] { return t }
        }
        return nil
    }

    /// WordNet's tag for a word or, for a word ending in -s, for its stem (a plural noun or a
    /// third-person verb).
    func wordNetTag(_ lowered: String) -> String? {
        guard !wordnet.isEmpty else { return nil }
        if let t = wordnet[lowered] { return t }
        guard lowered.hasSuffix("s"), lowered.count > 3 else { return nil }
        var stems = [String(lowered.dropLast())]
        if lowered.hasSuffix("es") { stems.append(String(lowered.dropLast(2))) }
        if lowered.hasSuffix("ies") { stems.append(String(lowered.dropLast(3)) + "y") }
        for stem in stems {
            if let t = wordnet[stem], t == "NOUN" || t == "VERB" { return t }
        }
        return nil
    }
}
