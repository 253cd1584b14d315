import Foundation
import Testing
@testable import Catalog

/// Outcomes and reasons as the catalog stores them: every reason round-trips through the
/// columns and through a scratch file's JSON; a status or reason the code does not know is
/// refused, never read as some other verdict.
@Suite struct OutcomeTests {
    @Test func everyReasonRoundTripsThroughTheColumns() throws {
        for reason in Reason.allCases {
            for outcome in [Outcome.skipped(reason, "why"), .failed(reason)] {
                let read = Outcome(status: outcome.status, reason: outcome.reason?.rawValue, message: outcome.message)
                #expect(read == outcome)
                let json = try JSONEncoder().encode(outcome)
                #expect(try JSONDecoder().decode(Outcome.self, from: json) == outcome)
            }
        }
        #expect(Outcome(status: "ok", reason: nil) == .ok)
        #expect(Set(Reason.allCases.map(\.rawValue)).count == Reason.allCases.count)
        #expect(Reason.allCases.allSatisfy { "\($0)" == $0.rawValue })
        #expect(Reason.allCases.allSatisfy { $0.rawValue.allSatisfy { $0.isLowercase || $0 == "_" || $0.isNumber } })
    }

    @Test func unknownStatusesAndReasonsAreRefused() throws {
        #expect(Outcome(status: "skipped", reason: "no_such_reason") == nil)
        #expect(Outcome(status: "skipped", reason: nil) == nil)
        #expect(Outcome(status: "maybe", reason: "no_masks") == nil)
        let json = Data(#"{"status":"failed","reason":"made_up"}"#.utf8)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Outcome.self, from: json) }
    }

    @Test func loadersReadColumnsByNameAndRefuseCorruptOnes() throws {
        let catalog = try Catalog(path: ":memory:")
        let entry = EntryRecord(position: 0, unit: 0, source: "s", sourceKey: "a", sampleID: "x", caption: "a mug",
                                imageRef: #"{"path":"a.jpg"}"#, masks: [MaskRecord(k: 0, kind: "binary_png", ref: "m.png", label: "mug")])
        try catalog.write { db in _ = try catalog.replaceEntries(unit: 0, [entry], in: db) }
        let samples = try catalog.captionedSamples(unit: 0)
        #expect(samples.map(\.caption) == ["a mug"] && samples.first?.labels.first?.label == "mug")
        try catalog.database.run("UPDATE masks SET k = 'x'")
        let error = try #require(throws: CatalogError.self) { try catalog.captionedSamples(unit: 0) }
        #expect("\(error)".contains("masks.k"))
    }
}
