import Foundation

/// Compiling a rule to its branch-free bit-mask form for the bit-parallel path.
extension RuleEngine {
    /// The branch-free form of a compiled rule (``Masked``), with `words` word ids before the
    /// suffix slots.
    static func masked(_ r: Compiled, words: Int) -> Masked {
        let (ka, kb) = r.template.operands
        func slot(_ kind: POSTagger.Operand, _ id: Int32) -> Int32 {
            switch kind {
            case .none: return Int32(onesSlot)
            case .tag: return id
            case .word: return Int32(wordBase) + id
            case .suffix: return Int32(wordBase + words) + id
            }
        }
        var m = Masked(from: r.from, to: r.to, slotA: slot(ka, r.a), slotB: slot(kb, r.b))
        // Shifts of A (previous positions shift left, following ones right) and of B.
        func a(_ shifts: [Int]) {
            let s = shifts + Array(repeating: shifts.last!, count: 3 - shifts.count)
            func split(_ k: Int) -> (UInt8, UInt8) { k >= 0 ? (UInt8(k), 0) : (0, UInt8(-k)) }
            (m.la1, m.ra1) = split(s[0]); (m.la2, m.ra2) = split(s[1]); (m.la3, m.ra3) = split(s[2])
        }
        func b(_ k: Int) { (m.lb, m.rb) = k >= 0 ? (UInt8(k), 0) : (0, UInt8(-k)) }
        switch r.template {
        case .prevTag, .prevWord: a([1])
        case .nextTag, .nextWord: a([-1])
        case .prev2Tag, .prev2Word: a([2])
        case .next2Tag, .next2Word: a([-2])
        case .prevNextTag: a([1]); b(-1)
        case .prevTwoTags: a([1]); b(2)
        case .nextTwoTags: a([-1]); b(-2)
        case .prevOrPrev2Tag: a([1, 2])
        case .nextOrNext2Tag: a([-1, -2])
        case .prev3Tag: a([1, 2, 3])
        case .next3Tag: a([-1, -2, -3])
        case .wordPrevTag, .suffixPrevTag: a([0]); b(1)
        case .wordNextTag, .suffixNextTag: a([0]); b(-1)
        case .word: a([0])
        case .prevWordTag: a([1]); b(1)
        case .nextWordTag: a([-1]); b(-1)
        case .prevTagNextWord: a([-1]); b(1) // A is the next word, B the previous tag
        case .wordPrevWord: a([0]); b(1); m.slotB = -1 - r.b
        case .wordNextWord: a([0]); b(-1); m.slotB = -1 - r.b
        }
        return m
    }
}
