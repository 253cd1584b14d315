import BuildSupport
public import Catalog
import Formats
import Foundation

/// Integrity checks, lineage and epoch order over a build's catalog.
public enum CatalogInspection {
    /// One file whose bytes differ from what the catalog recorded.
    public struct Mismatch: Sendable, CustomStringConvertible {
        public var path: String
        public var problem: String
        public var description: String { "\(path): \(problem)" }
    }

    /// Rechecks every file the catalog records (each stage's unit files and every shard): present,
    /// of the recorded size, with the recorded SHA-256; that no unit is recorded as done under two
    /// configs (its rows and files can be only one config's); that every `features` and
    /// `shard_rows` row names the sample its file's `sample_ids` metadata holds at that row; and
    /// that embed and shard hold verdicts only on their inputs (crop's kept samples, embed's ok ones).
    /// - Returns: the files checked and the mismatches.
    public static func verify(_ catalog: Catalog, root: String) throws -> (checked: Int, mismatches: [Mismatch]) {
        let several = try catalog.unitsUnderSeveralConfigs().map { Mismatch(path: $0, problem: "done under more than one config") }
        var expected: [String: (Int, String)] = [:]
        for file in try catalog.recordedFiles() { expected[file.path] = (file.bytes, file.sha256) }
        var mismatches = several
        for (path, (bytes, digest)) in expected.sorted(by: { $0.key < $1.key }) {
            let full = root + "/" + path
            guard let handle = FileHandle(forReadingAtPath: full) else {
                mismatches.append(Mismatch(path: path, problem: "missing"))
                continue
            }
            try? handle.close()
            let size = (try? FileManager.default.attributesOfItem(atPath: full)[.size] as? Int) ?? -1
            if size != bytes {
                mismatches.append(Mismatch(path: path, problem: "\(size) bytes, the catalog recorded \(bytes)"))
            } else if try SHA256.hex(file: full) != digest {
                mismatches.append(Mismatch(path: path, problem: "SHA-256 differs from the catalog's"))
            }
        }
        let (features, shards) = try catalog.rowLocations()
        var idsByFile: [String: [String]?] = [:]
        for (sampleID, path, row) in features + shards {
            if idsByFile[path] == nil {
                let header = try? SafetensorsFile(path: root + "/" + path)
                idsByFile[path] = header?.metadata["sample_ids"].map { $0.split(separator: ",").map(String.init) }
            }
            guard let ids = idsByFile[path] ?? nil else {
                mismatches.append(Mismatch(path: path, problem: "no sample_ids metadata to check row \(row) of \(sampleID) against"))
                continue
            }
            if !ids.indices.contains(row) || ids[row] != sampleID {
                let holder = ids.indices.contains(row) ? "holds \(ids[row])" : "has \(ids.count) rows"
                mismatches.append(Mismatch(path: path, problem: "the catalog puts \(sampleID) at row \(row), but the file \(holder)"))
            }
        }
        for verdict in try catalog.verdictsWithoutInput() {
            mismatches.append(Mismatch(path: "sample_status", problem: "\(verdict): a verdict on a sample that is not the stage's input"))
        }
        return (expected.count, mismatches)
    }

    /// Everything the catalog knows about one sample, from its source to its shard row.
    public static func lineage(_ catalog: Catalog, sampleID: String) throws -> String {
        guard let text = try catalog.lineage(sampleID: sampleID) else { throw PipelineError(.usage, "no sample with id \(sampleID)") }
        return text
    }
}
