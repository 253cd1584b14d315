import Foundation

/// A rule-based part-of-speech tagger (Universal POS tags) in Brill's style: a lexicon gives each
/// known word its most frequent tag, suffix and shape rules guess unknown words, then contextual
/// transformation rules ("change A to B when the previous tag is C", …) correct the guesses in
/// order. No learned weights: the lexicon and rules are plain text files derived from UD
/// English-EWT train (CC BY-SA 4.0) by ``POSTagger/train(sentences:maxRules:)``.
///
/// Why it looks as it does:
/// - Two rule lists from the same treebank, one learned on the sentences as written and one on
///   lower-cased copies: captions are often caseless, and capitalisation is the strongest
///   proper-noun cue, so caseless input needs rules that do without it.
/// - Rules are constrained: a known word may become only a tag the treebank (or WordNet) gives it,
///   so "NOUN→VERB after PART" costs nothing on words that are never verbs and a name rule cannot
///   turn "a red mug" into a name. Any -ing/-ed form may also become a verb ("women are dancing",
///   though EWT saw "dancing" only as a noun). Adding WordNet's parts of speech to known words
///   raised EWT dev NOUN+PROPN F1 from 0.956 to 0.961 (cased).
/// - Unknown words are guessed from their ``Form`` first (addresses PROPN, file and host names
///   NOUN, mail names X, letters with digits never NUM: a caseless "NOUN→NUM after a colon" had
///   made "see attached file : report.pdf" a number), then shape, held letters ("sooooo"),
///   spelling neighbours (``SpellingIndex``; left out of the jackknifed training halves, where a
///   word one half lacks is mostly a rare correct word), suffix and verb stem.
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
    /// Every part of speech WordNet gives such a word, for those with more than one.
    var wordnetParts: [String: Set<String>] = [:]
    /// Lower-case word -> every tag the treebank gives it, for words seen with more than one.
    var ambiguous: [String: Set<String>] = [:]
    /// The lower-case lexicon's words by spelling, for misspelt unknown words (built by
    /// ``compile()``; empty before, so the jackknifed training halves make no spelling guesses).
    var spelling = SpellingIndex([:])
    /// Whether rules change a known word only to a tag the treebank gives it (``allowed(_:)``).
    var constrained = false
    /// Contextual rules for sentences with capitals, applied in order.
    var rules: [Rule] = [] { didSet { engine = nil } }
    /// Contextual rules for caseless sentences (lower-cased captions), applied in order; when
    /// empty, ``rules`` apply to them too.
    var caselessRules: [Rule] = [] { didSet { engine = nil } }
    /// The rules compiled (``compile()``); nil until then, when ``tag(_:)`` applies them one by one.
    var engine: RuleEngine?

    /// The rules that apply to a sentence.
    func ruleSet(caseless: Bool) -> [Rule] { caseless && !caselessRules.isEmpty ? caselessRules : rules }

    /// One transformation: change `from` to `to` where `template` holds with `a` (and `b`).
    struct Rule: Sendable, Hashable {
        var from: String
        var to: String
        var template: Template
        var a: String
        var b: String
    }

    /// What a rule parameter names.
    enum Operand: Sendable { case none, tag, word, suffix }

    enum Template: String, Sendable, CaseIterable {
        case prevTag, nextTag, prev2Tag, next2Tag, prevNextTag, prevTwoTags, nextTwoTags, prevOrPrev2Tag, nextOrNext2Tag
        case prevWord, nextWord, wordPrevTag, wordNextTag, word, prevWordTag
        case suffixPrevTag, suffixNextTag, prevTagNextWord
        case prev3Tag, next3Tag, wordPrevWord, wordNextWord, prev2Word, next2Word, nextWordTag

        /// The last three characters of a word (suffix templates).
        static func suffix(_ w: String) -> String { String(w.suffix(3)) }

        /// What `a` and `b` name.
        var operands: (a: Operand, b: Operand) {
            switch self {
            case .prevTag, .nextTag, .prev2Tag, .next2Tag, .prevOrPrev2Tag, .nextOrNext2Tag, .prev3Tag, .next3Tag: return (.tag, .none)
            case .prevNextTag, .prevTwoTags, .nextTwoTags: return (.tag, .tag)
            case .prevWord, .nextWord, .word, .prev2Word, .next2Word: return (.word, .none)
            case .wordPrevTag, .wordNextTag, .prevWordTag, .prevTagNextWord, .nextWordTag: return (.word, .tag)
            case .wordPrevWord, .wordNextWord: return (.word, .word)
            case .suffixPrevTag, .suffixNextTag: return (.suffix, .tag)
            }
        }

        /// Whether the rule holds at position `i`; `tag(k)` and `word(k)` answer for any k (the
        /// sentence padded with `<s>` before and `</s>` after), `suffix(k)` for words.
        @inline(__always)
        func holds<T: Equatable, W: Equatable>(_ i: Int, a: (T?, W?), b: (T?, W?), tag: (Int) -> T, word: (Int) -> W,
                                               suffix: (Int) -> W) -> Bool {
            switch self {
            case .prevTag: return tag(i - 1) == a.0
            case .nextTag: return tag(i + 1) == a.0
            case .prev2Tag: return tag(i - 2) == a.0
            case .next2Tag: return tag(i + 2) == a.0
            case .prevNextTag: return tag(i - 1) == a.0 && tag(i + 1) == b.0
            case .prevTwoTags: return tag(i - 1) == a.0 && tag(i - 2) == b.0
            case .nextTwoTags: return tag(i + 1) == a.0 && tag(i + 2) == b.0
            case .prevOrPrev2Tag: return tag(i - 1) == a.0 || tag(i - 2) == a.0
            case .nextOrNext2Tag: return tag(i + 1) == a.0 || tag(i + 2) == a.0
            case .prev3Tag: return tag(i - 1) == a.0 || tag(i - 2) == a.0 || tag(i - 3) == a.0
            case .next3Tag: return tag(i + 1) == a.0 || tag(i + 2) == a.0 || tag(i + 3) == a.0
            case .prevWord: return word(i - 1) == a.1
            case .nextWord: return word(i + 1) == a.1
            case .prev2Word: return word(i - 2) == a.1
            case .next2Word: return word(i + 2) == a.1
            case .wordPrevTag: return word(i) == a.1 && tag(i - 1) == b.0
            case .wordNextTag: return word(i) == a.1 && tag(i + 1) == b.0
            case .word: return word(i) == a.1
            case .prevWordTag: return word(i - 1) == a.1 && tag(i - 1) == b.0
            case .nextWordTag: return word(i + 1) == a.1 && tag(i + 1) == b.0
            case .suffixPrevTag: return suffix(i) == a.1 && tag(i - 1) == b.0
            case .suffixNextTag: return suffix(i) == a.1 && tag(i + 1) == b.0
            case .prevTagNextWord: return word(i + 1) == a.1 && tag(i - 1) == b.0
            case .wordPrevWord: return word(i) == a.1 && word(i - 1) == b.1
            case .wordNextWord: return word(i) == a.1 && word(i + 1) == b.1
            }
        }

        func matches(_ i: Int, tags: [String], words: [String], a: String, b: String) -> Bool {
            let n = tags.count
            let (ka, kb) = operands
            return holds(i, a: (ka == .tag ? a : nil, ka == .tag ? nil : a), b: (kb == .tag ? b : nil, kb == .tag ? nil : b),
                         tag: { k in k < 0 ? "<s>" : k >= n ? "</s>" : tags[k] },
                         word: { k in k < 0 ? "<s>" : k >= n ? "</s>" : words[k] },
                         suffix: { k in Template.suffix(words[k]) })
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
        let n = words.count, pad = RuleEngine.pad, size = n + 2 * pad
        // One scratch allocation for the padded tag, word, suffix and allowed-tag rows.
        return withUnsafeTemporaryAllocation(of: UInt64.self, capacity: size * 3) { scratch in
            let allowed = UnsafeMutableBufferPointer(rebasing: scratch[0..<size])
            let raw = UnsafeMutableRawBufferPointer(scratch)
            let wordIDs = UnsafeMutableRawBufferPointer(rebasing: raw[(size * 8)..<(size * 12)]).bindMemory(to: Int32.self)
            let suffixIDs = UnsafeMutableRawBufferPointer(rebasing: raw[(size * 12)..<(size * 16)]).bindMemory(to: Int32.self)
            let tags = UnsafeMutableRawBufferPointer(rebasing: raw[(size * 16)..<(size * 17)]).bindMemory(to: UInt8.self)
            allowed.initialize(repeating: ~0)
            wordIDs.initialize(repeating: 0)
            suffixIDs.initialize(repeating: -1)
            tags.initialize(repeating: 0)
            for k in 0..<pad { tags[n + pad + k] = 1; wordIDs[n + pad + k] = 1 }
            var caseless = true
            var unknown: [Int] = []
            for i in 0..<n {
                let (exact, lowerEntry, differs) = engine.lookup(words[i])
                if differs { caseless = false }
                if let e = lowerEntry {
                    wordIDs[i + pad] = e.word
                    suffixIDs[i + pad] = e.suffix
                    allowed[i + pad] = e.allowed
                } else {
                    wordIDs[i + pad] = -1
                }
                if let e = exact, e.cased != RuleEngine.none {
                    tags[i + pad] = e.cased
                } else if let e = lowerEntry, e.lower != RuleEngine.none {
                    tags[i + pad] = e.lower
                } else {
                    unknown.append(i)
                }
            }
            // Words the lexicon lacks: shape, WordNet and suffix guesses (they need to know whether
            // the sentence is caseless).
            for i in unknown {
                let w = words[i], l = w.lowercased()
                if wordIDs[i + pad] < 0, !engine.suffixIndex.isEmpty { suffixIDs[i + pad] = engine.suffixIndex[Template.suffix(l)] ?? -1 }
                // The lexicon lacks the word as written and lower-cased (initialTag's first two steps).
                let facts = unknownWord(l)
                tags[i + pad] = engine.tagIndex[guessTag(w, lowered: l, sentenceStart: i == 0, caseless: caseless, facts)] ?? 63
                // A name or code: what its form allows (as bits made once by the engine). A word
                // only WordNet knows: what WordNet gives it.
                if constrained, let form = facts.form {
                    allowed[i + pad] = engine.formAllowed[form.rawValue]
                } else if let parts = allowedUnknown(l, facts) {
                    allowed[i + pad] = engine.bits(parts)
                }
            }
            engine.run(set: caseless ? 1 : 0, tags: tags, words: UnsafeBufferPointer(wordIDs), suffixes: UnsafeBufferPointer(suffixIDs),
                       allowed: UnsafeBufferPointer(allowed))
            return (0..<n).map { engine.tagNames[Int(tags[$0 + pad])] }
        }
    }

    /// ``tag(_:)`` applying the rules one by one (before ``compile()``; the reference for the
    /// compiled engine).
    func tagUncompiled(_ words: [String]) -> [String] {
        let lowered = words.map { $0.lowercased() }
        let caseless = lowered == words
        var tags = words.indices.map { initialTag(words[$0], lowered: lowered[$0], sentenceStart: $0 == 0, caseless: caseless) }
        let allowed = lowered.map(allowed)
        for rule in ruleSet(caseless: caseless) { apply(rule, tags: &tags, words: lowered, allowed: allowed) }
        return tags
    }

    /// The tags a rule may give a word (lower-case form): those the treebank gives it, or nil
    /// (any) for words it lacks or when the tagger is not ``constrained``.
    /// For a word only WordNet knows, the parts of speech WordNet gives it (or its stem).
    /// Any -ing or -ed form may also be a verb (a gerund or participle the treebank happened to
    /// see only as a noun or adjective).
    func allowed(_ lowered: String) -> Set<String>? {
        guard constrained else { return nil }
        guard let t = lower[lowered] else { return allowedUnknown(lowered, unknownWord(lowered)) }
        return withVerbForms(lowered, ambiguous[lowered] ?? [t])
    }

    /// ``allowed(_:)`` for a word the treebank lacks, given its ``unknownWord(_:)`` facts. A name or
    /// code may be what its ``Form`` allows. A word neither the treebank nor WordNet knows that is an
    /// -ed or -ing form of a known verb may be what such rare forms are in the treebank: a verb or
    /// adjective, and for -ing a noun too.
    func allowedUnknown(_ lowered: String, _ facts: UnknownWord) -> Set<String>? {
        guard constrained else { return nil }
        if let form = facts.form { return form.allowed }
        guard let (word, tag) = facts.wordNet else {
            guard facts.verbForm else { return nil }
            return Self.verbEnding(lowered) == 3 ? ["VERB", "NOUN", "ADJ"] : ["VERB", "ADJ"]
        }
        return withVerbForms(lowered, wordnetParts[word] ?? [tag])
    }

    /// `tags`, plus VERB for an -ing or -ed form.
    private func withVerbForms(_ lowered: String, _ tags: Set<String>) -> Set<String> {
        Self.verbEnding(lowered) == 0 ? tags : tags.union(["VERB"])
    }

    /// The length of a verb ending the word has: 3 for -ing (after two or more letters), 2 for -ed
    /// (after two or more), 0 for neither.
    static func verbEnding(_ lowered: String) -> Int {
        let n = lowered.utf8.count
        if n > 4 && lowered.hasSuffix("ing") { return 3 }
        if n > 3 && lowered.hasSuffix("ed") { return 2 }
        return 0
    }

    /// Compiles the rules for ``tag(_:)``.
    mutating func compile() {
        spelling = SpellingIndex(lower)
        let tags = Set(cased.values).union(lower.values).union(suffixes.values).union(wordnet.values).union(wordnetParts.values.flatMap { $0 })
            .union(["NOUN", "PROPN", "NUM", "X", "SYM", "PUNCT", "VERB", "ADJ", "ADV"])
        engine = RuleEngine(ruleSets: [rules, caselessRules.isEmpty ? rules : caselessRules], extraTags: tags,
                            cased: cased, lower: lower, allowed: allowed)
    }

    func apply(_ rule: Rule, tags: inout [String], words: [String], allowed: [Set<String>?]) {
        var changes: [Int] = []
        for i in tags.indices where tags[i] == rule.from && allowed[i].map({ $0.contains(rule.to) }) ?? true
            && rule.template.matches(i, tags: tags, words: words, a: rule.a, b: rule.b) {
            changes.append(i)
        }
        for i in changes { tags[i] = rule.to }
    }

    /// Lexicon, then shape, then suffix guesses.
    /// - Parameter caseless: the sentence has no capitals, so capitalisation says nothing about
    ///   proper nouns (lower-cased captions).
    func initialTag(_ word: String, lowered: String, sentenceStart: Bool, caseless: Bool = false) -> String {
        if let t = cased[word] { return t }
        // A capitalised form not seen as such takes its lower-case form's tag (headings, titles).
        if let t = lower[lowered] { return t }
        return guessTag(word, lowered: lowered, sentenceStart: sentenceStart, caseless: caseless, unknownWord(lowered))
    }

}
