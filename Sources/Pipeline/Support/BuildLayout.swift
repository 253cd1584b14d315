import Foundation

/// Where everything lives in a build directory (`builds/<name>/`). Paths are computed here and
/// nowhere else.
public struct BuildLayout: Sendable {
    /// The build directory, absolute.
    public var root: String

    /// A layout rooted at `root`.
    public init(root: String) {
        self.root = URL(fileURLWithPath: root).standardizedFileURL.path
    }

    /// The build's catalog.
    public var catalog: String { root + "/catalog.sqlite" }
    /// The catalog a worker writes when the build is split across `workers` processes.
    public func workerCatalog(worker: Int, workers: Int) -> String {
        root + "/workers/catalog-\(worker)-of-\(workers).sqlite"
    }
    /// The catalog a stage process writes: the build's own, or its worker's.
    public func catalog(worker: Int, workers: Int) -> String {
        workers > 1 ? workerCatalog(worker: worker, workers: workers) : catalog
    }
    /// Folders whose files are claimed by stage catalog rows (swept of orphans on start).
    /// `checkpoints/` is not one: `prior train` owns it, records it in its own table and sweeps
    /// its own temporaries.
    public var managedDirectories: [String] { ["objects", "exports", "features", "shards"] }
    /// Content-addressed objects (crops, derived images).
    public var objects: String { root + "/objects" }
    /// Reports (Markdown, JSON, HTML).
    public var reports: String { root + "/reports" }
    /// Report path for a stage run summary.
    public func summaryReport(stage: String, worker: Int, workers: Int, ext: String) -> String {
        let suffix = workers > 1 ? "-worker-\(worker)-of-\(workers)" : ""
        return reports + "/\(stage)\(suffix).\(ext)"
    }
    /// The absolute path of a build-relative path.
    public func absolute(_ relative: String) -> String { root + "/" + relative }
    /// The lock file guarding a catalog against a second writer process.
    public func lock(forCatalog catalog: String) -> String { catalog + ".lock" }
}
