import BuildSupport
import Foundation
@testable import Pipeline
import Testing

@Suite struct JSONValueTests {
    @Test func parsesEveryKindOfValue() throws {
        let v = try JSONValue.parse(Array(#" {"a": [1, -2.5e3, true, false, null], "s": "x\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "o": {}} "#.utf8))
        #expect(v["a"] == .array([.number(1), .number(-2500), .bool(true), .bool(false), .null]))
        #expect(v["s"]?.string == "x\"\\/\u{8}\u{c}\n\r\té😀")
        #expect(v["o"] == .object([]))
        #expect(v["missing"] == nil)
        #expect(v["a"]?.array?.first?.int == 1)
    }

    @Test func agreesWithFoundationOnSamples() throws {
        let texts = [#"{"caption":"a red mug","mask":[{"value":1,"label":"mug","logit":0.93,"box":[1,2,3,4]}]}"#,
                     #"[0.1, 1e-7, 123456789012, "ünï", {"k": {"k": [[]]}}]"#]
        for text in texts {
            let ours = try JSONValue.parse(Array(text.utf8))
            let theirs = try JSONSerialization.jsonObject(with: Data(text.utf8))
            let canonical = try JSONSerialization.data(withJSONObject: theirs, options: [.sortedKeys, .withoutEscapingSlashes])
            let reparsed = try JSONValue.parse(Array(canonical))
            #expect(ours.canonical == reparsed.canonical)
        }
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\" 1}", "tru", "01x", "\"\\x\"", "\"\\ud800\"", "[1] 2", "\"a\u{1}\"", "-", "1.", "1e"])
    func malformedInputIsAnError(text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(text.utf8)) }
    }

    @Test func invalidUTF8AndDeepNestingAreErrors() {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse([0x22, 0xFF, 0x22]) }
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect((try? JSONValue.parse(Array(ok.utf8))) != nil)
    }

    @Test func canonicalFormSortsKeysAndKeepsTheLastDuplicate() throws {
        let v = try JSONValue.parse(Array(#"{"b": 1, "a": [2.5, "x"], "b": 3}"#.utf8))
        #expect(v.canonical == #"{"a":[2.5,"x"],"b":3}"#)
    }
}
