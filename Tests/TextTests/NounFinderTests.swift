import Testing
@testable import Text

@Suite struct NounFinderTests {
    static let finder = try! NounFinder()

    @Test(arguments: [
        ("a red mug next to a green ball on a wooden table", ["mug", "ball", "table"]),
        ("a group of people standing on the beach", ["person", "beach"]),
        ("a bunch of bananas on a plate", ["banana", "plate"]),
        ("a close up of a fire hydrant", ["fire hydrant"]),
        ("a cat on top of a car", ["cat", "car"]),
        ("a dog in front of the house", ["dog", "house"]),
        ("two apples and a blue book in front of a blue wall", ["apple", "book", "wall"]),
        ("a photo of a clock on a checkered floor", ["clock", "floor"]),
        ("three brown boxes on the grass", ["box", "grass"]),
        ("a bowl of berries on the counter", ["bowl", "berry", "counter"]),
    ])
    func findsTheObjectNouns(caption: String, expected: [String]) {
        #expect(Self.finder.nouns(in: caption).map(\.lemma) == expected)
    }

    @Test func singularLemmas() {
        #expect(NounFinder.singular("berries") == "berry" && NounFinder.singular("boxes") == "box")
        #expect(NounFinder.singular("toys") == "toy" && NounFinder.singular("people") == "person")
        #expect(NounFinder.singular("glass") == "glass" && NounFinder.singular("bus") == "bus")
        #expect(NounFinder.singular("shoes") == "shoe" && NounFinder.singular("tomatoes") == "tomato")
    }

    @Test func multiWordLabelsMatchTheirHead() {
        // The tagger reads "teddy" as an adjective, so the noun is "bear"; the label still matches.
        let matches = Self.finder.match(labels: ["teddy bear"], caption: "a close up of a teddy bear")
        #expect(matches[0].noun != nil)
        #expect(!matches[0].referencePositions.isEmpty)
    }

    @Test func labelsMatchNounsWithTokenPositions() {
        let caption = "a photo of two dogs next to a red mug"
        let matches = Self.finder.match(labels: ["dog", "mug", "stuffed animal"], caption: caption)
        #expect(matches[0].noun != nil && matches[1].noun != nil && matches[2].noun == nil)
        let ids = Self.finder.tokenizer.tokenize(caption).ids
        // "dogs" is one BPE token; the span position points at it. The reference rule looks for
        // the id of "dog" and finds nothing, as the original substitution code would.
        #expect(matches[0].spanPositions.count == 1)
        #expect(matches[0].referencePositions.isEmpty)
        #expect(matches[1].referencePositions == matches[1].spanPositions)
        #expect(matches[1].spanPositions.allSatisfy { Self.finder.tokenizer.encode("mug").contains(ids[$0]) })
    }
}
