/// Tagger accuracy on a treebank.
public enum POSTaggerScore {
    /// UPOS accuracy and the F1 of "is a noun" (NOUN or PROPN) over all tokens.
    public static func score(_ tagger: POSTagger, _ sentences: [POSTagger.TaggedSentence], lowerCased: Bool)
        -> (tokens: Int, accuracy: Double, nounF1: Double) {
        var correct = 0, total = 0, tp = 0, fp = 0, fn = 0
        for s in sentences {
            let words = s.map { lowerCased ? $0.word.lowercased() : $0.word }
            for (predicted, gold) in zip(tagger.tag(words), s.map(\.tag)) {
                total += 1
                if predicted == gold { correct += 1 }
                let p = predicted == "NOUN" || predicted == "PROPN", g = gold == "NOUN" || gold == "PROPN"
                if p && g { tp += 1 } else if p { fp += 1 } else if g { fn += 1 }
            }
        }
        return (total, Double(correct) / Double(max(1, total)), Double(2 * tp) / Double(max(1, 2 * tp + fp + fn)))
    }
}
