import Foundation

/// Guesses for words the lexicon lacks: their form (addresses, file and mail names, codes),
/// shape, suffix, WordNet entry and verb stem.
extension POSTagger {
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
