/// ftfy 6.3's mojibake repair (`fix_encoding`, as `fix_text` applies it with the default
/// config): text that looks bad to its heuristic is encoded in the first single-byte encoding
/// that can represent it (Latin-1, sloppy Windows-1252, -1251, -1250, -1253, -1254, -1257,
/// ISO-8859-2, MacRoman, CP437), mended (a space that was byte A0, bytes lost as U+FFFD) and
/// decoded as UTF-8 (with CESU-8 surrogate pairs and Java's C0 80); failing that, UTF-8
/// mojibake embedded in other text is repaired piecewise, then Latin-1 text is read as
/// Windows-1252, then C1 controls; repeated until nothing changes.
struct MojibakeFixer: Sendable {
    /// One position of a pattern: a test on a scalar (or byte) value, possibly optional.
    struct Step: Sendable {
        var test: @Sendable (UInt32) -> Bool
        var optional = false
    }

    /// A fixed sequence of steps (the alternatives of ftfy's regular expressions).
    struct Pattern: Sendable {
        var steps: [Step]
        /// Matches only at the start of the text (`^`).
        var anchored = false

        /// The length of the match at `start`, trying an optional step with then without its
        /// character (a greedy `?`), or nil.
        func match(_ s: [UInt32], at start: Int) -> Int? {
            if anchored && start != 0 { return nil }
            func from(_ k: Int, _ j: Int) -> Int? {
                if k == steps.count { return j }
                let step = steps[k]
                if j < s.count, step.test(s[j]), let end = from(k + 1, j + 1) { return end }
                return step.optional ? from(k + 1, j) : nil
            }
            return from(0, start)
        }
    }

    let charmaps: [MojibakeTables.Charmap]
    let badness: [Pattern]
    /// UTF-8 detector alternatives (first of 2/3/4 and their continuations) and what may not
    /// precede a match.
    let detector: [Pattern]
    let detectorNotAfter: Set<UInt32>

    init(tables: MojibakeTables) {
        charmaps = tables.charmaps
        badness = Self.badnessPatterns(tables)
        let first2 = tables.union(["utf8_first_of_2"]), first3 = tables.union(["utf8_first_of_3"])
        let first4 = tables.union(["utf8_first_of_4"]), continuation = tables.union(["utf8_continuation"])
        func p(_ sets: [Set<UInt32>]) -> Pattern { Pattern(steps: sets.map { set in Step(test: { set.contains($0) }) }) }
        detector = [p([first2, continuation]), p([first3, continuation, continuation]), p([first4, continuation, continuation, continuation])]
        detectorNotAfter = tables.union(["utf8_continuation_strict"])
    }

    // MARK: - Badness

    /// ftfy's `is_bad`: some unlikely sequence of mojibake characters occurs.
    func isBad(_ s: [UInt32]) -> Bool {
        for i in s.indices where badness.contains(where: { $0.match(s, at: i) != nil }) { return true }
        return false
    }

    /// The alternatives of ftfy's `BADNESS_RE`, in its order, over its character categories.
    static func badnessPatterns(_ t: MojibakeTables) -> [Pattern] {
        func set(_ names: [String], _ literal: String = "") -> Step {
            let members = t.union(names, literal)
            return Step(test: { members.contains($0) })
        }
        func lit(_ literal: String) -> Step { set([], literal) }
        let ascii = Step(test: { ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) })
        let lower = Step(test: { $0 >= 0x61 && $0 <= 0x7A })
        let space = Step(test: { Unicode.Scalar($0).map(TextCleaner.isSpace) ?? false })
        let word = Step(test: { value in
            guard let u = Unicode.Scalar(value) else { return false }
            switch u.properties.generalCategory {
            case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
            default: return u.properties.numericType != nil || value == 0x5F
            }
        })
        let anyButNewline = Step(test: { $0 != 0x0A })
        let notASCIILetter = Step(test: { !(($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)) })
        let la = "lower_accented", ua = "upper_accented", box = "box", sp = "start_punctuation", ep = "end_punctuation"
        let cur = "currency", num = "numeric", law = "law", bad = "bad", c1 = "c1", lc = "lower_common", uc = "upper_common"
        let arabic = set(["common", cur, bad, num, sp], "ŸŠ®°µ»")
        var patterns: [[Step]] = [
            [set([c1])],
            [set([bad, la, ua, box, sp, ep, cur, num, law]), set([bad])],
            [ascii, set([lc, uc]), set([bad])],
            [set([bad]), set([la, ua, box, sp, ep, cur, num, law])],
            [set([la, lc, box, ep, cur, num]), set([ua])],
            [set([box, ep, cur, num]), set([la])],
            [set([la, box, ep]), set([cur])],
            [space, set([ua]), set([cur])],
            [set([ua, box]), set([num, law])],
            [set([la, ua, box, cur, ep]), set([sp]), set([num])],
            [set([la, ua, cur, num, box, law]), set([ep]), set([sp])],
            [set([cur, num, box]), set([sp])],
            [lower, set([ua]), set([sp, cur])],
            [set([box]), set(["kaomoji"])],
            [set([la, ua, cur, num, sp, ep, law]), set([box])],
            [set([box]), set([ep])],
            [set([la, ua]), set([sp, ep]), word],
            [lit("Œœ"), notASCIILetter],
            [set([ua]), lit("°")],
            [lit("ÂÃÎÐ"), set([sp, ep], "€œŠš¢£Ÿž\u{A0}\u{AD}®©°·»–—´")],
            [lit("×"), lit("²³")],
            [lit("ØÙ"), arabic, lit("ØÙ"), arabic],
            [lit("à"), lit("²µ¹¼½¾")],
            [lit("√"), lit("±∂†≠®™´≤≥¥µø")],
            [lit("≈"), lit("°¢")],
            [lit("‚"), lit("Ä"), lit("ìîïòôúùû†°¢π")],
            [lit("‚"), lit("âó"), lit("àä°ê")],
            [lit("в"), lit("Ђ")],
            [lit("ВГРС"), set([c1, bad, sp, ep, cur], "°µ"), lit("ВГРС")],
            [lit("Г"), lit("ў"), lit("В"), lit("Ђ"), lit("В"), anyButNewline, set([], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz ")],
            [lit("Ã"), lit("\u{A0}¡")],
            [lower, Step(test: space.test, optional: true), lit("ÃÂ"), lit(" ")],
            [set([ep], "abcdefghijklmnopqrstuvwxyz.,?!"), lit("Â"), set([sp, ep], " ")],
            [lit("β"), lit("€"), lit("™\u{A0}Ά\u{AD}®°")],
            [lit("ΒΓΞΟ"), set([c1, bad, sp, ep, cur], "°"), lit("ΒΓΞΟ")],
            [lit("ā"), lit("€")],
        ]
        // `^[ÃÂ][ ]` (the order of the alternatives does not change `is_bad`).
        patterns.removeAll { $0.isEmpty }
        return patterns.map { Pattern(steps: $0) } + [Pattern(steps: [lit("ÃÂ"), lit(" ")], anchored: true)]
    }
}
