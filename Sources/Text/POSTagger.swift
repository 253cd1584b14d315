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

    /// What the tagger works out once about a word its lexicon lacks: its ``Form``, else its
    /// ``wordNetEntry(_:)`` and whether ``isVerbForm(_:)``.
    struct UnknownWord {
        var form: Form?
        var wordNet: (word: String, tag: String)?
        var verbForm = false
    }

    /// ``UnknownWord`` for `lowered` (a name or code's form decides alone: WordNet and verb stems,
    /// which hold only letters, are not asked).
    func unknownWord(_ lowered: String) -> UnknownWord {
        if let form = Form(lowered) { return UnknownWord(form: form) }
        return UnknownWord(wordNet: wordNetEntry(lowered), verbForm: isVerbForm(lowered))
    }

    /// Words whose form alone says what they can be.
    enum Form: Int, Sendable, CaseIterable {
        /// A URL or an e-mail address (``looksLikeAddress(_:)``).
        case address
        /// A file, host or group name (``looksLikeDottedName(_:)``).
        case dottedName
        /// A mail name without its domain (``looksLikeMailName(_:)``).
        case mailName
        /// Letters with digits (``mixesLettersAndDigits(_:)``).
        case alphanumeric

        init?(_ lowered: String) {
            if POSTagger.looksLikeAddress(lowered) { self = .address }
            else if POSTagger.looksLikeDottedName(lowered) { self = .dottedName }
            else if POSTagger.looksLikeMailName(lowered) { self = .mailName }
            else if POSTagger.mixesLettersAndDigits(lowered) { self = .alphanumeric }
            else { return nil }
        }

        /// The tags rules may give such a word: an address, a file or a mail name is a name whatever
        /// its neighbours (never a number or verb); the treebank's 360 words of letters with digits
        /// (sx40, 29th) are nouns, names, adjectives or X, never numbers.
        var allowed: Set<String> { self == .alphanumeric ? POSTagger.alphanumericTags : POSTagger.nameTags }
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

    /// ``initialTag(_:lowered:sentenceStart:caseless:)`` for a word the lexicon lacks, given its
    /// ``unknownWord(_:)`` facts: shape, then WordNet, stems, spelling, then suffix guesses.
    func guessTag(_ word: String, lowered: String, sentenceStart: Bool, caseless: Bool, _ facts: UnknownWord) -> String {
        let shape = Shape(word)
        if shape.numeric { return "NUM" }
        switch facts.form {
        // Addresses are proper nouns in the treebank (all 234 in train); file and group names
        // (report.pdf, alt.animals.cats) mostly common nouns (46 of 80, the rest PROPN or X); mail
        // names without their domain (rice@enron, as mail headers write them) X (46 of 51).
        case .address: return "PROPN"
        case .dottedName: return "NOUN"
        case .mailName: return "X"
        case .alphanumeric, nil: break
        }
        if shape.noLetterOrDigit { return shape.symbols ? "SYM" : "PUNCT" }
        if shape.hasUpper && !sentenceStart { return "PROPN" }
        // Letters with digits (sx40, r2d2, 3g, 29th) name things: the treebank tags them NOUN,
        // PROPN or ADJ, never NUM.
        if shape.hasDigit { return "NOUN" }
        if let t = elongatedTag(lowered) { return t }
        if let t = facts.wordNet?.tag { return t }
        if let t = stemTag(lowered) { return t }
        if facts.verbForm { return "VERB" }
        // A misspelt word (peopel, awsome, islad) takes the tag of the lexicon words one edit away.
        if let t = spelling.tag(lowered) { return t }
        // In caseless text, a plain word that neither the treebank nor WordNet knows (and that is
        // not a verb form) is most often a lower-cased name.
        if caseless && !wordnet.isEmpty && lowered.count >= 3 && shape.letters
            && !lowered.hasSuffix("ing") && !lowered.hasSuffix("ed") && !lowered.hasSuffix("ly") {
            return "PROPN"
        }
        return suffixGuess(lowered) ?? (shape.hasUpper ? "PROPN" : "NOUN")
    }

    /// The tag of a known word written with a letter held (sooooo, veryyyy, yesss): runs of three
    /// or more of one letter cut to two, then to one.
    func elongatedTag(_ lowered: String) -> String? {
        // Most words have no run of three: checked on the bytes first.
        var held = false, a: UInt8 = 0, b: UInt8 = 0
        for c in lowered.utf8 {
            if c == a && c == b && c >= 0x41 { held = true; break }
            a = b; b = c
        }
        guard held else { return nil }
        let chars = Array(lowered)
        guard chars.count >= 4 else { return nil }
        // Runs of one character: (character, length).
        var runs: [(Character, Int)] = []
        for c in chars {
            if let last = runs.last, last.0 == c { runs[runs.count - 1].1 += 1 } else { runs.append((c, 1)) }
        }
        guard runs.contains(where: { $0.1 >= 3 && $0.0.isLetter }) else { return nil }
        for keep in [2, 1] {
            let word = String(runs.flatMap { c, n in Array(repeating: c, count: n >= 3 && c.isLetter ? keep : n) })
            if let t = lower[word] { return t }
        }
        return nil
    }

    /// Whether a word ending in -ed or -ing has a stem the treebank or WordNet knows as a verb
    /// (crashed, resumed, mopping, evacuating, carried).
    func isVerbForm(_ lowered: String) -> Bool {
        let ending = Self.verbEnding(lowered)
        guard ending > 0 else { return false }
        let ed = ending == 2
        func verb(_ w: String) -> Bool {
            if let t = lower[w] { return t == "VERB" || ambiguous[w]?.contains("VERB") == true }
            return wordnet[w] == "VERB" || wordnetParts[w]?.contains("VERB") == true
        }
        let base = String(lowered.dropLast(ending))
        guard base.count >= 2 else { return false }
        if verb(base) || verb(base + "e") { return true } // resumed -> resume, evacuating -> evacuate
        if base.count >= 3, base.last == base.dropLast().last, verb(String(base.dropLast())) { return true } // mopping -> mop
        return ed && lowered.hasSuffix("ied") && verb(String(lowered.dropLast(3)) + "y") // carried -> carry
    }

    /// A URL or an e-mail address (http…, www.…, or an @ and a dot), from the UTF-8 bytes.
    static func looksLikeAddress(_ lowered: String) -> Bool {
        let u = lowered.utf8
        if u.starts(with: "http".utf8) || u.starts(with: "www.".utf8) { return true }
        return u.contains(0x40) && u.contains(0x2E)
    }

    /// A file, host or newsgroup name: ASCII letters, digits, `_` and `-` in two or more parts
    /// joined by single dots, the last part two or more letters (notes.doc, alt.animals.cats,
    /// example.com), but not an abbreviation (u.s.a, e.g) or a number (3.5, v2.0).
    static func looksLikeDottedName(_ lowered: String) -> Bool {
        var dots = 0, partLength = 0, lastPartLetters = true, letters = 0
        for c in lowered.utf8 {
            switch c {
            case 0x2E: // .
                guard partLength > 0 else { return false }
                dots += 1; partLength = 0; lastPartLetters = true
            case 0x61...0x7A: partLength += 1; letters += 1
            case 0x30...0x39, 0x5F, 0x2D: partLength += 1; lastPartLetters = false // digit _ -
            default: return false
            }
        }
        return dots > 0 && partLength >= 2 && lastPartLetters && letters >= 4
    }

    /// Letters, then one @, then letters (rice@enron).
    static func looksLikeMailName(_ lowered: String) -> Bool {
        var before = 0, after = 0, at = false
        for c in lowered.utf8 {
            if c == 0x40 {
                guard !at else { return false }
                at = true
            } else if c &- 0x61 < 26 {
                if at { after += 1 } else { before += 1 }
            } else {
                return false
            }
        }
        return at && before >= 2 && after >= 2
    }

    /// Whether an ASCII word has both letters and digits.
    static func mixesLettersAndDigits(_ lowered: String) -> Bool {
        var letter = false, digit = false
        for c in lowered.utf8 {
            if c &- 0x61 < 26 { letter = true } else if c &- 0x30 < 10 { digit = true } else if c >= 0x80 { return false }
        }
        return letter && digit
    }

    /// What rules may make of a word of letters and digits.
    static let alphanumericTags: Set<String> = ["NOUN", "PROPN", "ADJ", "X"]

    /// What rules may make of an address, file or mail name.
    static let nameTags: Set<String> = ["NOUN", "PROPN", "X"]

    /// What a word's characters say, from its bytes when it is ASCII.
    struct Shape {
        var hasUpper = false, hasDigit = false
        /// Digits with only `.,:/-%` between them.
        var numeric = false
        /// Neither letters nor digits.
        var noLetterOrDigit = true
        /// Only `$%+=<>|^~#*&@`.
        var symbols = true
        /// Only letters.
        var letters = true

        init(_ word: String) {
            var allNumericish = true
            func symbol(_ c: UInt32) -> Bool {
                switch c {
                case 0x24, 0x25, 0x2B, 0x3D, 0x3C, 0x3E, 0x7C, 0x5E, 0x7E, 0x23, 0x2A, 0x26, 0x40: return true // $%+=<>|^~#*&@
                default: return false
                }
            }
            func numericish(_ c: UInt32) -> Bool {
                switch c {
                case 0x2E, 0x2C, 0x3A, 0x2F, 0x2D, 0x25: return true // .,:/-%
                default: return false
                }
            }
            if word.utf8.allSatisfy({ $0 < 0x80 }) {
                for b in word.utf8 {
                    let upper = b &- 0x41 < 26, lowerCase = b &- 0x61 < 26, digit = b &- 0x30 < 10
                    hasUpper = hasUpper || upper
                    hasDigit = hasDigit || digit
                    if upper || lowerCase || digit { noLetterOrDigit = false }
                    if !(upper || lowerCase) { letters = false }
                    if !symbol(UInt32(b)) { symbols = false }
                    if !(digit || numericish(UInt32(b))) { allNumericish = false }
                }
            } else {
                for c in word.unicodeScalars {
                    let p = c.properties, digit = p.numericType != nil
                    hasUpper = hasUpper || p.isUppercase
                    hasDigit = hasDigit || digit
                    if p.isAlphabetic || digit { noLetterOrDigit = false }
                    if !symbol(c.value) { symbols = false }
                    if !(digit || numericish(c.value)) { allNumericish = false }
                }
                letters = word.allSatisfy { $0.isLetter }
            }
            numeric = hasDigit && allNumericish
        }
    }

    /// The tag of the longest known suffix (1-5 characters, the word itself excluded).
    func suffixGuess(_ lowered: String) -> String? {
        let u = lowered.utf8
        if u.allSatisfy({ $0 < 0x80 }) { // one byte per character: suffixes cut from the bytes
            for k in stride(from: min(5, u.count - 1), through: 1, by: -1) {
                if let t = suffixes[String(decoding: u.suffix(k), as: UTF8.self)] { return t }
            }
            return nil
        }
        let chars = Array(lowered)
        for k in stride(from: min(5, chars.count - 1), through: 1, by: -1) {
            if let t = suffixes[String(chars[(chars.count - k)...])] { return t }
        }
        return nil
    }

    /// For a word ending in -s whose stem the treebank knows as a noun or verb (a plural or a
    /// third-person form), that tag.
    func stemTag(_ lowered: String) -> String? {
        for stem in Self.stems(lowered) {
            if let t = lower[stem], t == "NOUN" || t == "VERB" { return t }
        }
        return nil
    }

    /// The stems a word ending in -s may have (-s, -es, -ies → -y), longest first.
    static func stems(_ lowered: String) -> [String] {
        guard lowered.hasSuffix("s"), lowered.count > 3 else { return [] }
        var stems = [String(lowered.dropLast())]
        if lowered.hasSuffix("es") { stems.append(String(lowered.dropLast(2))) }
        if lowered.hasSuffix("ies") { stems.append(String(lowered.dropLast(3)) + "y") }
        return stems
    }

    /// The WordNet lemma a word is (or, for a word ending in -s, its stem when a noun or verb) and
    /// its tag.
    func wordNetEntry(_ lowered: String) -> (word: String, tag: String)? {
        guard !wordnet.isEmpty else { return nil }
        if let t = wordnet[lowered] { return (lowered, t) }
        for stem in Self.stems(lowered) {
            if let t = wordnet[stem], t == "NOUN" || t == "VERB" { return (stem, t) }
        }
        return nil
    }
}
