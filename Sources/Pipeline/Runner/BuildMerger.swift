import BuildSupport
import Catalog
import Foundation

/// Folds worker catalogs (`workers/catalog-K-of-N.sqlite`) into the build catalog.
public enum BuildMerger {
    /// The worker catalogs present in a build, sorted.
    public static func workerCatalogs(in layout: BuildLayout) -> [String] {
        let folder = layout.root + "/workers"
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix("catalog-") && $0.hasSuffix(".sqlite") }.sorted().map { folder + "/" + $0 }
    }

    /// Merges `catalogs` into the build catalog under its lock, then removes files that no
    /// merged row claims.
    /// - Returns: one line per merged catalog.
    /// - Throws: ``PipelineError`` `.locked`, or catalog errors.
    public static func merge(_ catalogs: [String], into layout: BuildLayout) throws -> [String] {
        guard !catalogs.isEmpty else { throw PipelineError(.usage, "no worker catalogs to merge", file: layout.root + "/workers") }
        for path in catalogs {
            // A worker still running holds its catalog's lock.
            _ = try FileLock(path: layout.lock(forCatalog: path), purpose: "merge (checking the worker finished)")
        }
        let lock = try FileLock(path: layout.lock(forCatalog: layout.catalog), purpose: "merge")
        defer { withExtendedLifetime(lock) {} }
        let catalog = try Catalog(path: layout.catalog)
        var lines: [String] = []
        for path in catalogs {
            try catalog.merge(workerCatalog: path)
            let units = try Catalog(path: path, readOnly: true).unitCount()
            lines.append("merged \(path) (\(units) units)")
        }
        let removed = try StageRunner(layout: layout, options: RunOptions()).sweep(catalog)
        if !removed.isEmpty { lines.append("removed \(removed.count) unclaimed files") }
        return lines
    }
}
