/// Finds the object nouns of a caption on top of the POS tagger: noun phrases with their head,
/// compounds as one span ("stop sign"), collective heads resolved ("a group of people" ->
/// people), relational and photographic words dropped ("top", "front", "a close up of"),
/// singular lemmas; and matches mask labels to those nouns with their CLIP token positions.
public struct NounFinder: Sendable {
    let tagger: POSTagger
    public let tokenizer: CLIPTokenizer

    /// A noun found in a caption.
    public struct Noun: Sendable, Equatable {
        /// The words of the span as written ("teddy bear").
        public var text: String
        /// Singular lower-case lemma of the span ("teddy bear", "person" for "people").
        public var lemma: String
        /// UTF-16-independent character span: offsets in `Character`s of the caption.
        public var characters: Range<Int>
        /// Word indices of the span.
        public var words: Range<Int>
    }

    /// Words that head a phrase but are not objects.
    static let relational: Set<String> = ["top", "front", "side", "middle", "bottom", "back", "edge", "corner", "center",
                                          "centre", "close", "closeup", "picture", "photo", "photograph", "image", "view",
                                          "background", "foreground", "left", "right", "part", "kind", "type", "shot",
                                          "distance", "rest", "inside", "outside", "way", "lot", "lots", "end"]
    /// Collective or quantity heads whose "of" complement is the object.
    static let collective: Set<String> = ["group", "bunch", "pair", "couple", "set", "herd", "flock", "pile", "stack",
                                          "row", "number", "variety", "collection", "team", "crowd", "bundle", "handful",
                                          "cluster", "series", "swarm", "pack", "bouquet", "lot", "lots", "plate", "bowl",
                                          "basket", "box", "cup", "glass", "bottle", "slice", "piece", "loaf", "bit",
                                          "chunk", "heap", "line", "array", "assortment", "selection", "pieces", "slices"]
    /// Containers are objects themselves, and so is their "of" complement ("a plate of food").
    static let containers: Set<String> = ["plate", "bowl", "basket", "box", "cup", "glass", "bottle", "jar", "bag",
                                          "tray", "vase", "bucket", "mug", "pot", "pan", "carton", "can"]

    /// Multi-word object names read as one noun whatever their words' tags ("stop" is a verb,
    /// "hot" an adjective): the COCO categories with more than one word and frequent caption
    /// compounds. Matched on lower-case words, longest first.
    static let compounds: [[String]] = [
        "traffic light", "fire hydrant", "stop sign", "parking meter", "sports ball", "baseball bat", "baseball glove",
        "tennis racket", "wine glass", "hot dog", "potted plant", "dining table", "cell phone", "teddy bear",
        "hair drier", "hair dryer", "remote control", "parking lot", "bus stop", "ice cream", "high chair",
        "double decker bus", "double decker", "living room", "stuffed animal", "stuffed toy", "orange juice", "lily pad",
        "computer monitor", "coffee table", "coffee cup", "coffee mug", "street sign", "street light", "fire truck",
        "fire engine", "police car", "police officer", "school bus", "train station", "train tracks", "train track",
        "tennis court", "tennis ball", "soccer ball", "golf ball", "bow tie", "cowboy hat", "life jacket", "ski lift",
        "swimming pool", "french fries", "hot air balloon", "christmas tree", "polar bear", "skate park", "city square",
        "toilet paper", "cutting board", "frying pan", "sliced bread", "running shoes", "sun glasses", "hard hat",
    ].map { $0.split(separator: " ").map(String.init) }.sorted { $0.count > $1.count }

    static let irregular: [String: String] = [
        "people": "person", "men": "man", "women": "woman", "children": "child", "feet": "foot", "teeth": "tooth",
        "mice": "mouse", "geese": "goose", "knives": "knife", "leaves": "leaf", "wolves": "wolf", "shelves": "shelf",
        "loaves": "loaf", "halves": "half", "calves": "calf", "scarves": "scarf", "wives": "wife", "lives": "life",
        "oxen": "ox", "sheep": "sheep", "fish": "fish", "deer": "deer", "shoes": "shoe", "toes": "toe", "glasses": "glasses",
        "sunglasses": "sunglasses", "pants": "pants", "jeans": "jeans", "scissors": "scissors", "news": "news",
    ]

    public init(tagger: POSTagger, tokenizer: CLIPTokenizer) {
        self.tagger = tagger
        self.tokenizer = tokenizer
    }

    /// The bundled tagger and tokenizer.
    public init() throws {
        try self.init(tagger: .bundled(), tokenizer: CLIPTokenizer())
    }

    /// Nouns ending in -ie, whose plural is not -y -> -ies.
    static let ieNouns: Set<String> = ["cookie", "movie", "pie", "tie", "zombie", "selfie", "hippie", "brownie", "rookie",
                                       "calorie", "smoothie", "pixie", "goalie", "veggie", "birdie", "hoodie", "collie",
                                       "auntie", "sweetie", "magpie", "necktie", "bowtie", "lie", "die", "genie", "eerie",
                                       "prairie", "budgie", "yorkie", "beanie", "boogie", "newbie", "talkie", "oldie"]

    /// The singular form of a lower-case noun.
    public static func singular(_ word: String) -> String {
        if let known = irregular[word] { return known }
        let w = Array(word)
        func ends(_ s: String) -> Bool { word.hasSuffix(s) }
        if ends("ss") || ends("us") || ends("is") { return word }
        guard w.count > 3 else { return ends("s") && w.count > 2 ? String(w.dropLast()) : word }
        if ends("ies"), Self.ieNouns.contains(String(w.dropLast())) { return String(w.dropLast()) }
        if ends("ies"), !"aeiou".contains(w[w.count - 4]) { return String(w.dropLast(3)) + "y" }
        if ends("ches") || ends("shes") || ends("xes") || ends("sses") || ends("zzes") { return String(w.dropLast(2)) }
        if ends("oes") { return String(w.dropLast(2)) }
        if ends("s") { return String(w.dropLast()) }
        return word
    }

    /// Clitics the treebank writes as separate words.
    static let clitics = ["n't", "'s", "'re", "'ve", "'ll", "'d", "'m"]

    /// Splits a caption into words with character offsets (letters/digits/apostrophes/hyphens
    /// form words; other non-space characters stand alone).
    static func words(_ text: String) -> [(word: String, range: Range<Int>)] {
        let chars = Array(text)
        var out: [(String, Range<Int>)] = []
        var i = 0
        func isWordChar(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "'" || c == "-" }
        while i < chars.count {
            if chars[i].isWhitespace { i += 1; continue }
            var j = i + 1
            if isWordChar(chars[i]) { while j < chars.count, isWordChar(chars[j]) { j += 1 } }
            // Clitics split off as the treebank does: "isn't" -> "is" "n't", "dog's" -> "dog" "'s".
            let word = String(chars[i..<j]).lowercased()
            let clitic = Self.clitics.first { word.hasSuffix($0) && word.count > $0.count }
            let cut = clitic.map { j - $0.count } ?? j
            out.append((String(chars[i..<cut]), i..<cut))
            if cut < j { out.append((String(chars[cut..<j]), cut..<j)) }
            i = j
        }
        return out
    }

    /// The object nouns of a caption, in order.
    public func nouns(in caption: String) -> [Noun] {
        let words = Self.words(caption)
        guard !words.isEmpty else { return [] }
        let lower = words.map { $0.word.lowercased() }
        let (tags, compound) = captionTags(lower: lower, tags: tagger.tag(words.map(\.word)))
        func isNoun(_ k: Int) -> Bool { tags[k] == "NOUN" || tags[k] == "PROPN" }
        var found: [Noun] = []
        var k = 0
        while k < words.count {
            guard isNoun(k) else { k += 1; continue }
            var end = k + 1
            while end < words.count, isNoun(end) { end += 1 }
            // The head of a compound ("parking lot") is never relational or collective.
            let head = compound[end - 1] == nil ? lower[end - 1] : ""
            let followedByOf = end < words.count && lower[end] == "of"
            if followedByOf && (Self.relational.contains(head) || Self.collective.contains(head)) {
                if Self.containers.contains(head) {
                    found.append(noun(words, lower, k..<end))
                }
                k = end + 1
                continue
            }
            if Self.relational.contains(head) { k = end; continue }
            found.append(noun(words, lower, k..<end))
            k = end
        }
        return found
    }

    /// Caption corrections on top of the treebank tagger (captions are short, present-tense and
    /// noun-heavy): compounds become nouns; an -ing word right after a noun is a participle
    /// ("a dog sleeping"); a noun-tagged verb in -s after a singular noun, before a preposition
    /// or determiner, is a verb ("a cat sits on"); a verb- or adjective-tagged word after a
    /// determiner, adjective or "of" that ends the phrase is a noun ("in a stable", "red leaves");
    /// so is an auxiliary there or after a possessive ("a shiny can", "my can"), and one that
    /// opens the caption before a preposition ("Can on the grass").
    /// - Returns: the corrected tags and, per word, the index of the compound holding it.
    func captionTags(lower: [String], tags original: [String]) -> (tags: [String], compound: [Int?]) {
        var tags = original
        var compound = [Int?](repeating: nil, count: lower.count)
        var k = 0, next = 0
        while k < lower.count {
            // Compare with the last word singular, so plurals match ("stop signs").
            let c = Self.compounds.first { c in
                k + c.count <= lower.count && zip(c, lower[k..<(k + c.count)]).enumerated().allSatisfy { j, pair in
                    pair.0 == pair.1 || (j == c.count - 1 && Self.singular(pair.1) == pair.0)
                }
            }
            if let c {
                for j in k..<(k + c.count) { tags[j] = "NOUN"; compound[j] = next }
                next += 1
                k += c.count
            } else {
                k += 1
            }
        }
        func noun(_ i: Int) -> Bool { i >= 0 && i < tags.count && (tags[i] == "NOUN" || tags[i] == "PROPN") }
        func tag(_ i: Int) -> String { i < 0 ? "<s>" : i >= tags.count ? "</s>" : tags[i] }
        let phraseEnd: Set<String> = ["</s>", "ADP", "PUNCT", "CCONJ", "ADV", "SCONJ"]
        let possessives: Set<String> = ["my", "your", "his", "her", "its", "our", "their"]
        for i in tags.indices where compound[i] == nil {
            let w = lower[i]
            if tags[i] == "AUX", phraseEnd.contains(tag(i + 1)),
               ["DET", "ADJ", "NUM"].contains(tag(i - 1)) || (i > 0 && (lower[i - 1] == "of" || possessives.contains(lower[i - 1])))
                || (i == 0 && tag(i + 1) == "ADP") {
                tags[i] = "NOUN"
            } else if noun(i) && noun(i - 1) && w.hasSuffix("ing") && w.count > 4 {
                tags[i] = "VERB"
            } else if noun(i) && noun(i - 1) && w.hasSuffix("s") && !lower[i - 1].hasSuffix("s")
                        && ["ADP", "DET", "ADV", "PUNCT", "</s>"].contains(tag(i + 1)),
                      tagger.lower[String(w.dropLast())] == "VERB" || tagger.lower[w] == "VERB" {
                tags[i] = "VERB"
            } else if tags[i] == "VERB" || tags[i] == "ADJ", !w.hasSuffix("ing"), !w.hasSuffix("ed"),
                      ["DET", "ADJ", "NUM"].contains(tag(i - 1)) || (i > 0 && lower[i - 1] == "of"),
                      phraseEnd.contains(tag(i + 1)) && (tags[i] == "VERB" || tag(i + 1) != "CCONJ"),
                      tag(i - 1) != "ADJ" || tags[i] == "VERB" {
                tags[i] = "NOUN"
            }
        }
        return (tags, compound)
    }

    func noun(_ words: [(word: String, range: Range<Int>)], _ lower: [String], _ span: Range<Int>) -> Noun {
        let text = words[span].map(\.word).joined(separator: " ")
        var lemmaWords = Array(lower[span])
        lemmaWords[lemmaWords.count - 1] = Self.singular(lemmaWords[lemmaWords.count - 1])
        return Noun(text: text, lemma: lemmaWords.joined(separator: " "),
                    characters: words[span.lowerBound].range.lowerBound..<words[span.upperBound - 1].range.upperBound,
                    words: span)
    }

    /// A mask label matched to a caption noun.
    public struct Match: Sendable, Equatable {
        public var label: String
        /// Index into ``nouns(in:)``, or nil when no noun matches.
        public var noun: Int?
        /// Positions (in the 77 ids) holding one of the label's BPE ids: the reference substitution.
        public var referencePositions: [Int]
        /// Positions of the matched noun span's tokens.
        public var spanPositions: [Int]

        /// Where a subject's embedding goes in the caption's hidden states.
        public enum PositionsRule: String, Sendable {
            /// Every position holding one of the label's BPE ids (λ-ECLIPSE's substitution).
            case labelIDs = "label_ids"
            /// The matched noun's own tokens, where none of the label's ids occurs ("boxes"
            /// for the label "box": a plural or other inflection is another BPE token).
            case nounSpan = "noun_span"
        }

        /// The rule that gives ``positions``: the label's ids where they occur; with
        /// `substituteAtNoun`, else the matched noun's span.
        public func rule(substituteAtNoun: Bool) -> PositionsRule {
            substituteAtNoun && referencePositions.isEmpty && !spanPositions.isEmpty ? .nounSpan : .labelIDs
        }

        /// The positions the subject's embedding replaces under ``rule(substituteAtNoun:)``.
        public func positions(substituteAtNoun: Bool) -> [Int] {
            rule(substituteAtNoun: substituteAtNoun) == .nounSpan ? spanPositions : referencePositions
        }
    }

    /// Matches each label to a noun (by singular lemma of the whole label, or of its last word
    /// against the noun's head) and computes its token positions.
    public func match(labels: [String], caption: String) -> [Match] {
        let nouns = nouns(in: caption)
        let ids = tokenizer.tokenize(caption).ids
        return labels.map { label in
            let labelWords = label.lowercased().split(separator: " ").map(String.init)
            let lemma = (labelWords.dropLast() + [Self.singular(labelWords.last ?? "")]).joined(separator: " ")
            let index = nouns.firstIndex { $0.lemma == lemma }
                ?? nouns.firstIndex { $0.lemma.split(separator: " ").last.map(String.init) == lemma.split(separator: " ").last.map(String.init) }
            let labelIDs = Set(tokenizer.encode(label))
            let reference = ids.indices.filter { $0 > 0 && labelIDs.contains(ids[$0]) && ids[$0] != tokenizer.endID }
            let span = index.map { tokenPositions(of: nouns[$0], in: caption) } ?? []
            return Match(label: label, noun: index, referencePositions: reference, spanPositions: span)
        }
    }

    /// The positions (in the 77 ids, after the start token) of the tokens a noun's span
    /// becomes; positions the context truncates away are left out.
    public func tokenPositions(of noun: Noun, in caption: String) -> [Int] {
        let chars = Array(caption)
        guard noun.characters.upperBound <= chars.count else { return [] }
        let start = 1 + tokenizer.encode(String(chars[0..<noun.characters.lowerBound])).count
        let end = 1 + tokenizer.encode(String(chars[0..<noun.characters.upperBound])).count
        return start < end ? Array(start..<max(start, min(end, tokenizer.contextLength - 1))) : []
    }
}
