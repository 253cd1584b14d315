import BuildSupport
public import Catalog
import Foundation

/// Reads the bytes behind a catalog file reference (`{"path"}` or `{"tar", "offset", "size"}`)
/// relative to its source's root, with the same confinement checks as ingest.
public struct SourceFiles: Sendable {
    /// Source name -> root folder.
    public let roots: [String: String]

    /// Source roots given directly (tests that run a stage's per-item work in process).
    package init(roots: [String: String]) {
        self.roots = roots
    }

    /// Loads the source roots from a catalog.
    public init(catalog: Catalog) throws {
        roots = try catalog.sourceRoots()
    }

    /// The bytes of `reference` in `source`.
    public func read(_ reference: String, source: String, maxBytes: Int) throws(FileIO.Refusal) -> [UInt8] {
        guard let root = roots[source] else { throw FileIO.Refusal(.unknownSource, "source '\(source)' is not in the catalog") }
        guard let ref = try? JSONValue.parse(Array(reference.utf8)) else {
            throw FileIO.Refusal(.badReference, "unreadable file reference \(reference)")
        }
        if let path = ref["path"]?.string {
            return try FileIO.read(FileIO.confine(path, to: root), maxBytes: maxBytes)
        }
        guard let tar = ref["tar"]?.string, let offset = ref["offset"]?.int, let size = ref["size"]?.int else {
            throw FileIO.Refusal(.badReference, "unreadable file reference \(reference)")
        }
        return try FileIO.read(FileIO.confine(tar, to: root), offset: offset, size: size, maxBytes: maxBytes)
    }
}
