import Foundation

/// A table built once from a bundled TSV resource (lines of `kind <TAB> key <TAB> value`) and
/// kept for the life of the process.
final class BundledTable<Table: Sendable>: @unchecked Sendable {
    // @unchecked: `table` is only touched under `lock`.
    private let resource: String
    private let build: ([[Substring]]) throws -> Table
    private var table: Table?
    private let lock = NSLock()

    /// - Parameters:
    ///   - resource: the file name under Resources (`html-entities.tsv`).
    ///   - build: makes the table from the file's three-field rows (other lines are skipped).
    init(_ resource: String, build: @escaping ([[Substring]]) throws -> Table) {
        self.resource = resource
        self.build = build
    }

    /// The table, read and built on first use.
    /// - Throws: ``TextError/missingResource(_:)`` when the file is not in the bundle.
    func get() throws -> Table {
        lock.lock()
        defer { lock.unlock() }
        if let table { return table }
        let name = (resource as NSString).deletingPathExtension, ext = (resource as NSString).pathExtension
        guard let url = Bundle.module.url(forResource: name, withExtension: ext),
              let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw TextError.missingResource(resource)
        }
        let rows = text.split(separator: "\n").map { $0.split(separator: "\t", omittingEmptySubsequences: false) }.filter { $0.count == 3 }
        let made = try build(rows)
        table = made
        return made
    }
}
