internal import CSQLite
import Foundation

/// A value bound to or read from SQLite.
public enum SQLValue: Sendable, Hashable, CustomStringConvertible {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The value as an `Int`, or `nil` when it is not an integer.
    public var int: Int? { if case .integer(let v) = self { return Int(v) }; return nil }
    /// The value as a `Double` (integers converted), or `nil`.
    public var double: Double? {
        switch self {
        case .real(let v): return v
        case .integer(let v): return Double(v)
        default: return nil
        }
    }
    /// The value as a `String`, or `nil` when it is not text.
    public var string: String? { if case .text(let v) = self { return v }; return nil }

    public var description: String {
        switch self {
        case .null: return "NULL"
        case .integer(let v): return String(v)
        case .real(let v): return String(v)
        case .text(let v): return v
        case .blob(let v): return "x'" + v.map { String(format: "%02x", $0) }.joined() + "'"
        }
    }
}

/// Conversions of Swift values to bound parameters.
public protocol SQLBindable { var sqlValue: SQLValue { get } }
extension Int: SQLBindable { public var sqlValue: SQLValue { .integer(Int64(self)) } }
extension Int64: SQLBindable { public var sqlValue: SQLValue { .integer(self) } }
extension Double: SQLBindable { public var sqlValue: SQLValue { .real(self) } }
extension String: SQLBindable { public var sqlValue: SQLValue { .text(self) } }
extension Bool: SQLBindable { public var sqlValue: SQLValue { .integer(self ? 1 : 0) } }
extension SQLValue: SQLBindable { public var sqlValue: SQLValue { self } }
extension Optional: SQLBindable where Wrapped: SQLBindable {
    public var sqlValue: SQLValue { self?.sqlValue ?? .null }
}

/// An error from SQLite, carrying the SQL that caused it.
public struct DatabaseError: Error, CustomStringConvertible, Sendable {
    /// SQLite's (extended) result code.
    public var code: Int32
    /// SQLite's message.
    public var message: String
    /// The statement, when there is one.
    public var sql: String?

    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " in `\($0)`" } ?? "")
    }

    /// Whether the error is SQLITE_BUSY or SQLITE_LOCKED (another process holds the database).
    public var isBusy: Bool { (code & 0xFF) == SQLITE_BUSY || (code & 0xFF) == SQLITE_LOCKED }
}

/// One result row.
public struct Row: Sendable {
    /// Column values in select order.
    public var values: [SQLValue]
    /// Column names in select order (an `AS` alias where the query gives one).
    public var names: [String]
    /// The value at `index`.
    public subscript(_ index: Int) -> SQLValue { values[index] }
    /// The value of the column named `name`. A query without that column is a bug in the code
    /// that wrote it (a misspelt name or a missing `AS`), never a state of the data: it stops
    /// the process rather than read as NULL.
    public subscript(_ name: String) -> SQLValue {
        guard let index = names.firstIndex(of: name) else { preconditionFailure("no column '\(name)' in \(names)") }
        return values[index]
    }
}

/// A thin wrapper over one SQLite connection: prepared statements with bound parameters only,
/// transactions, WAL and a busy timeout. Not thread-safe: own it from one context.
public final class Database {
    private var handle: OpaquePointer?
    private var cache: [String: OpaquePointer] = [:]
    private var transactionDepth = 0
    /// The file this connection opened.
    public let path: String

    /// Opens (creating if needed) a database file with WAL, foreign keys and a busy timeout.
    /// - Parameters:
    ///   - path: file path, or ":memory:".
    ///   - readOnly: open without write access.
    ///   - busyTimeout: milliseconds to wait for another writer.
    /// - Throws: ``DatabaseError``.
    public init(path: String, readOnly: Bool = false, busyTimeout: Int = 30_000) throws {
        self.path = path
        let flags = readOnly ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)
        var db: OpaquePointer?
        let rc = sqlite3_open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX, nil)
        handle = db
        guard rc == SQLITE_OK else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close_v2(db)
            handle = nil
            throw DatabaseError(code: rc, message: "\(message) (\(path))", sql: nil)
        }
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, Int32(busyTimeout))
        if !readOnly && path != ":memory:" {
            try execute("PRAGMA journal_mode=WAL")
            try execute("PRAGMA synchronous=NORMAL")
        }
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        for statement in cache.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
    }

    private func error(_ rc: Int32, _ sql: String?) -> DatabaseError {
        DatabaseError(code: rc, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements that take no parameters (schema, pragmas).
    /// - Throws: ``DatabaseError``.
    public func execute(_ sql: String) throws {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &message)
        if rc != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? "error"
            sqlite3_free(message)
            throw DatabaseError(code: rc, message: text, sql: sql)
        }
    }

    private func statement(_ sql: String, _ parameters: [any SQLBindable]) throws -> OpaquePointer {
        let stmt: OpaquePointer
        if let cached = cache[sql] {
            stmt = cached
            sqlite3_reset(stmt)
            sqlite3_clear_bindings(stmt)
        } else {
            var prepared: OpaquePointer?
            let rc = sqlite3_prepare_v2(handle, sql, -1, &prepared, nil)
            guard rc == SQLITE_OK, let prepared else { throw error(rc, sql) }
            cache[sql] = prepared
            stmt = prepared
        }
        guard Int(sqlite3_bind_parameter_count(stmt)) == parameters.count else {
            throw DatabaseError(code: SQLITE_RANGE,
                                message: "statement takes \(sqlite3_bind_parameter_count(stmt)) parameters, \(parameters.count) given",
                                sql: sql)
        }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (i, parameter) in parameters.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch parameter.sqlValue {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .integer(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .real(let v): rc = sqlite3_bind_double(stmt, index, v)
            case .text(let v): rc = sqlite3_bind_text(stmt, index, v, -1, transient)
            case .blob(let v):
                rc = v.withUnsafeBytes { sqlite3_bind_blob(stmt, index, $0.baseAddress, Int32($0.count), transient) }
            }
            guard rc == SQLITE_OK else { throw error(rc, sql) }
        }
        return stmt
    }

    private func column(_ stmt: OpaquePointer, _ i: Int32) -> SQLValue {
        switch sqlite3_column_type(stmt, i) {
        case SQLITE_INTEGER: return .integer(sqlite3_column_int64(stmt, i))
        case SQLITE_FLOAT: return .real(sqlite3_column_double(stmt, i))
        case SQLITE_TEXT: return .text(String(cString: sqlite3_column_text(stmt, i)))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(stmt, i))
            guard count > 0, let base = sqlite3_column_blob(stmt, i) else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: base, count: count)))
        default: return .null
        }
    }

    /// Runs a statement with bound parameters, calling `body` for each row.
    /// - Throws: ``DatabaseError`` or what `body` throws.
    public func forEach(_ sql: String, _ parameters: [any SQLBindable] = [], _ body: (Row) throws -> Void) throws {
        let stmt = try statement(sql, parameters)
        defer { sqlite3_reset(stmt) }
        let count = sqlite3_column_count(stmt)
        let names = (0..<count).map { String(cString: sqlite3_column_name(stmt, $0)) }
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw error(rc, sql) }
            try body(Row(values: (0..<count).map { column(stmt, $0) }, names: names))
        }
    }

    /// Runs a statement with bound parameters and returns all its rows.
    public func query(_ sql: String, _ parameters: [any SQLBindable] = []) throws -> [Row] {
        var rows: [Row] = []
        try forEach(sql, parameters) { rows.append($0) }
        return rows
    }

    /// The first column of the first row, or `.null`.
    public func scalar(_ sql: String, _ parameters: [any SQLBindable] = []) throws -> SQLValue {
        try query(sql, parameters).first?.values.first ?? .null
    }

    /// Runs a statement with bound parameters, ignoring any rows.
    public func run(_ sql: String, _ parameters: [any SQLBindable] = []) throws {
        try forEach(sql, parameters) { _ in }
    }

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Runs `body` in a transaction (a savepoint when nested): committed when it returns,
    /// rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        let name = "sp\(transactionDepth)"
        try execute(transactionDepth == 0 ? "BEGIN IMMEDIATE" : "SAVEPOINT \(name)")
        transactionDepth += 1
        do {
            let result = try body()
            transactionDepth -= 1
            try execute(transactionDepth == 0 ? "COMMIT" : "RELEASE \(name)")
            return result
        } catch {
            transactionDepth -= 1
            if transactionDepth == 0 {
                try? execute("ROLLBACK")
            } else {
                try? execute("ROLLBACK TO \(name); RELEASE \(name)")
            }
            throw error
        }
    }
}
