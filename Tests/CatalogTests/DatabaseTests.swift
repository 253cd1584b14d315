import Foundation
import PipelineTestSupport
import Testing
@testable import Catalog

@Suite struct DatabaseTests {
    @Test func boundParametersRoundTripEveryType() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE t (a, b, c, d, e)")
        let hostile = "x'); DROP TABLE t; --"
        try db.run("INSERT INTO t VALUES (?, ?, ?, ?, ?)", [42, 2.5, hostile, SQLValue.blob([0, 1, 255]), SQLValue.null])
        let row = try #require(try db.query("SELECT a, b, c, d, e FROM t").first)
        #expect(row[0] == .integer(42))
        #expect(row[1] == .real(2.5))
        #expect(row[2] == .text(hostile))
        #expect(row[3] == .blob([0, 1, 255]))
        #expect(row[4] == .null)
        #expect(try db.scalar("SELECT COUNT(*) FROM t").int == 1)
    }

    @Test func errorsCarryTheSQL() throws {
        let db = try Database(path: ":memory:")
        do {
            try db.run("SELECT * FROM missing_table WHERE x = ?", [1])
            Issue.record("expected an error")
        } catch let error as DatabaseError {
            #expect(error.sql == "SELECT * FROM missing_table WHERE x = ?")
            #expect(error.description.contains("missing_table"))
        }
    }

    @Test func wrongParameterCountIsAnError() throws {
        let db = try Database(path: ":memory:")
        #expect(throws: DatabaseError.self) { try db.run("SELECT ?, ?", [1]) }
    }

    @Test func transactionRollsBackOnThrowAndNests() throws {
        let db = try Database(path: ":memory:")
        try db.execute("CREATE TABLE t (v INTEGER)")
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try db.transaction {
                try db.run("INSERT INTO t VALUES (1)")
                throw Boom()
            }
        }
        #expect(try db.scalar("SELECT COUNT(*) FROM t").int == 0)
        try db.transaction {
            try db.run("INSERT INTO t VALUES (1)")
            try? db.transaction {
                try db.run("INSERT INTO t VALUES (2)")
                throw Boom()
            }
            try db.run("INSERT INTO t VALUES (3)")
        }
        #expect(try db.query("SELECT v FROM t ORDER BY v").map { $0[0].int } == [1, 3])
    }

    @Test func fileDatabaseUsesWAL() throws {
        let dir = TemporaryDirectory("db")
        let db = try Database(path: dir.appending("x.sqlite"))
        #expect(try db.scalar("PRAGMA journal_mode").string == "wal")
        #expect(try db.scalar("PRAGMA foreign_keys").int == 1)
    }
}

@Suite struct CatalogSchemaTests {
    @Test func migrationsApplyOnceAndReopen() throws {
        let dir = TemporaryDirectory("catalog")
        let path = dir.appending("catalog.sqlite")
        do {
            let catalog = try Catalog(path: path)
            #expect(try catalog.schemaVersion() == Catalog.schemaVersion)
            try catalog.recordSource(name: "s", format: "folder", root: "/r", optionsJSON: "{}")
        }
        let reopened = try Catalog(path: path)
        #expect(try reopened.schemaVersion() == Catalog.schemaVersion)
        #expect(try reopened.database.scalar("SELECT COUNT(*) FROM sources").int == 1)
        for table in ["runs", "units", "unit_files", "entries", "masks", "nouns", "subjects", "shards", "shard_rows",
                      "sample_status", "sample_objects"] {
            #expect(try reopened.database.scalar("SELECT COUNT(*) FROM sqlite_master WHERE name = ?", [table]).int == 1)
        }
    }

    @Test func newerSchemaIsRefused() throws {
        let dir = TemporaryDirectory("catalog")
        let path = dir.appending("catalog.sqlite")
        let db = try Database(path: path)
        try db.execute("PRAGMA user_version = 999")
        #expect(throws: CatalogError.self) { _ = try Catalog(path: path) }
    }

    @Test func unitBookkeeping() throws {
        let catalog = try Catalog(path: ":memory:")
        let record = UnitRecord(stage: "s", unit: 3, configHash: "h", itemsIn: 2, itemsOK: 1, itemsSkipped: 0,
                                itemsFailed: 1, host: "x", worker: 0, runID: 1, started: 0, finished: 1)
        try catalog.write { db in
            try catalog.recordUnit(record, files: [FileRecord(path: "objects/a", bytes: 3, sha256: "ab")], in: db)
        }
        #expect(try catalog.doneUnits(stage: "s", configHash: "h") == [3])
        #expect(try catalog.doneUnits(stage: "s", configHash: "other").isEmpty)
        #expect(try catalog.unitsWithFailures(stage: "s", configHash: "h") == [3])
        #expect(try catalog.claimedFiles() == ["objects/a"])
    }
}
