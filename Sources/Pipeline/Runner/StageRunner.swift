import BuildSupport
public import Catalog
import Foundation

/// A stage's per-unit work, run by ``StageRunner``.
public protocol UnitProcessor {
    /// What one work unit is made of (cheap descriptors; the processor does the heavy reads).
    associatedtype Item
    /// The stage name recorded in the catalog.
    var stage: String { get }
    /// Hash of the resolved stage config (plus model weights where a model is used).
    var configHash: String { get }
    /// The resolved config stored with each run.
    var configJSON: String { get }
    /// The matrix engines a model stage's products run on, for its summary (nil: no model).
    var engines: String? { get }
    /// Called once with the catalog before any unit runs.
    func prepare(_ catalog: Catalog) throws
    /// Does one unit's work. Must not touch the catalog: everything it records goes in the
    /// returned ``UnitOutput/record`` closure, which the runner calls in one transaction.
    func process(unit: Int, firstPosition: Int, items: [Item]) throws -> UnitOutput
    /// The same, counting finished items on `progress` as it goes (the stages do; the default
    /// counts the whole unit at its end).
    func process(unit: Int, firstPosition: Int, items: [Item], progress: ItemProgress) throws -> UnitOutput
}

extension UnitProcessor {
    public func prepare(_ catalog: Catalog) throws {}

    public var engines: String? { nil }

    public func process(unit: Int, firstPosition: Int, items: [Item], progress: ItemProgress) throws -> UnitOutput {
        let output = try process(unit: unit, firstPosition: firstPosition, items: items)
        progress.reach(items.count)
        return output
    }
}

/// What a processed unit hands back to the runner.
public struct UnitOutput {
    /// Files to write atomically, with paths relative to the build directory.
    public var files: [(path: String, bytes: [UInt8])]
    /// Records the unit's rows; runs inside the transaction that marks the unit done, and
    /// returns each item's final outcome.
    public var record: (Catalog, Database) throws -> [Outcome]

    public init(files: [(path: String, bytes: [UInt8])] = [], record: @escaping (Catalog, Database) throws -> [Outcome]) {
        self.files = files
        self.record = record
    }
}

/// How a stage process takes its share of the work.
public struct RunOptions: Sendable {
    /// Number of worker processes the build is split across.
    public var workers: Int
    /// This process's worker index, `0..<workers`.
    public var worker: Int
    /// Redo done units that hold failed items.
    public var retryFailed: Bool
    /// Items per work unit.
    public var unitSize: Int
    /// No progress output.
    public var quiet: Bool

    public init(workers: Int = 1, worker: Int = 0, retryFailed: Bool = false, unitSize: Int = 1000, quiet: Bool = false) {
        self.workers = workers
        self.worker = worker
        self.retryFailed = retryFailed
        self.unitSize = unitSize
        self.quiet = quiet
    }

    /// Worker defaults from a Slurm job array (`SLURM_ARRAY_TASK_COUNT`, `SLURM_ARRAY_TASK_ID`),
    /// else one worker.
    public static func slurmDefaults(environment: [String: String]? = nil) -> (workers: Int, worker: Int) {
        let environment = environment ?? ProcessInfo.processInfo.environment
        let count = environment["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) ?? 1
        var id = environment["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) ?? 0
        if let minimum = environment["SLURM_ARRAY_TASK_MIN"].flatMap(Int.init) { id -= minimum }
        return (max(1, count), max(0, id))
    }
}

/// Runs a stage over deterministic work units: skips units done for the same config hash,
/// writes outputs temp + fsync + rename, records each unit and its files' sizes and SHA-256 in
/// one transaction, sweeps orphans on start, and keeps a run summary.
public final class StageRunner {
    public let layout: BuildLayout
    public let options: RunOptions
    private var host: String { ProcessInfo.processInfo.hostName }
    private var tag: String { "w\(options.worker)of\(options.workers)" }
    /// Test hook for crash tests: `ECLIPSE_UNIT_DELAY_MS` pauses after a unit's files are
    /// written and before it is committed, widening the window a kill can land in.
    private let unitDelay = ProcessInfo.processInfo.environment["ECLIPSE_UNIT_DELAY_MS"].flatMap(Double.init).map { $0 / 1000 }

    public init(layout: BuildLayout, options: RunOptions) {
        self.layout = layout
        self.options = options
    }

    /// Runs `processor` over `items`, grouped into units of ``RunOptions/unitSize`` in order.
    /// - Parameters:
    ///   - items: the stage's input in deterministic order.
    ///   - estimatedCount: total item count for the progress ETA, when known.
    /// - Returns: the run summary (also stored in the catalog and under reports/).
    /// - Throws: ``PipelineError`` (lock held, I/O) or what a unit throws; the unit is then not
    ///   recorded and the run is marked failed.
    public func run<P: UnitProcessor, I: IteratorProtocol>(_ processor: P, items: I, estimatedCount: Int? = nil) throws -> RunSummary
    where I.Element == P.Item {
        var items = items
        var unit = 0
        let size = options.unitSize
        let units = AnyIterator<WorkUnit<P.Item>> {
            var batch: [P.Item] = []
            batch.reserveCapacity(min(size, 4096))
            while batch.count < size, let item = items.next() { batch.append(item) }
            if batch.isEmpty { return nil }
            defer { unit += 1 }
            let loaded = batch
            return WorkUnit(unit: unit, count: loaded.count, load: { loaded })
        }
        return try run(processor, units: units, estimatedCount: estimatedCount)
    }

    /// Runs `processor` over explicit units (a stage whose units follow an earlier stage's).
    /// A unit's items are loaded only when this worker processes it.
    public func run<P: UnitProcessor, U: IteratorProtocol>(_ processor: P, units: U, estimatedCount: Int? = nil) throws -> RunSummary
    where U.Element == WorkUnit<P.Item> {
        precondition(options.workers >= 1 && (0..<options.workers).contains(options.worker), "bad worker index")
        let (catalog, lock) = try open(stage: processor.stage)
        defer { withExtendedLifetime(lock) {} }
        try processor.prepare(catalog)
        var summary = RunSummary(stage: processor.stage, worker: options.worker, workers: options.workers, configHash: processor.configHash)
        summary.engines = processor.engines
        let runID = try catalog.beginRun(stage: processor.stage, worker: options.worker, workers: options.workers,
                                         configHash: processor.configHash, configJSON: processor.configJSON)
        let interrupts = InterruptHandler(stage: processor.stage, catalogPath: catalog.path, runID: runID)
        defer { interrupts.cancel() }
        let done = try catalog.doneUnits(stage: processor.stage, configHash: processor.configHash)
        let retry = options.retryFailed ? try catalog.unitsWithFailures(stage: processor.stage, configHash: processor.configHash) : []
        // Units recorded under any config: redoing one first forgets its record (see below).
        var recorded = try catalog.recordedUnits(stage: processor.stage)
        let progress = options.quiet ? nil : LiveProgress(Progress(stage: processor.stage, total: estimatedCount))
        var processedItems = 0
        let clock = Date()
        var units = units
        var seen = 0
        // A unit's commit runs on a background thread while the next unit is processed.
        let committer = UnitCommitter(catalog: catalog)
        func drain() throws {
            guard let commit = try committer.drain() else { return }
            // Committed: the unit's finished batches are no longer needed.
            UnitScratch.remove(layout: layout, stage: processor.stage, unit: commit.unit)
            summary.unitsProcessed += 1
            for outcome in commit.outcomes { summary.count(outcome) }
            progress?.set(done: commit.seenAfter, processed: summary.itemsIn, failed: summary.itemsFailed, current: nil)
        }
        do {
            while let work = units.next() {
                let unit = work.unit
                defer { seen += work.count }
                guard unit % options.workers == options.worker else { continue }
                summary.unitsOwned += 1
                if done.contains(unit) && !retry.contains(unit) {
                    summary.unitsAlreadyDone += 1
                    UnitScratch.remove(layout: layout, stage: processor.stage, unit: unit)
                    progress?.set(done: seen + work.count, processed: processedItems, failed: summary.itemsFailed, current: nil)
                    continue
                }
                let batch = try work.load()
                let started = Date().timeIntervalSince1970
                // Between unit ends the timer reports the unit's own count as the stage advances it.
                let counter = ItemProgress()
                progress?.set(done: seen, processed: processedItems, failed: summary.itemsFailed, current: counter)
                let output = try processor.process(unit: unit, firstPosition: unit * options.unitSize, items: batch, progress: counter)
                processedItems += work.count
                // A unit recorded under another config (or being retried) is forgotten before its
                // files are overwritten: killed between the two, it is redone by any config's
                // next run instead of counting as done with files it no longer has.
                if recorded.contains(unit) {
                    try drain()
                    try catalog.forgetUnit(stage: processor.stage, unit: unit)
                    recorded.remove(unit)
                }
                let files = try write(output.files)
                try drain()
                if let delay = unitDelay { Thread.sleep(forTimeInterval: delay) }
                committer.start(output, files: files, seenAfter: seen + work.count,
                                record: UnitRecord(stage: processor.stage, unit: unit, configHash: processor.configHash, itemsIn: 0,
                                                   itemsOK: 0, itemsSkipped: 0, itemsFailed: 0, host: host, worker: options.worker,
                                                   runID: runID, started: started, finished: 0))
            }
            try drain()
        } catch {
            committer.wait()
            progress?.finish()
            summary.finish(seconds: Date().timeIntervalSince(clock))
            try? catalog.finishRun(id: runID, status: "failed", summaryJSON: summary.json)
            throw error
        }
        progress?.set(done: seen, processed: summary.itemsIn, failed: summary.itemsFailed, current: nil, force: true)
        progress?.finish()
        summary.finish(seconds: Date().timeIntervalSince(clock))
        return try finish(summary, runID: runID, in: catalog)
    }

    /// Takes this process's catalog (the build's, or its worker's) under its lock, sweeping what
    /// killed runs left.
    private func open(stage: String) throws -> (Catalog, FileLock) {
        let catalogPath = layout.catalog(worker: options.worker, workers: options.workers)
        try FileManager.default.createDirectory(atPath: (catalogPath as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        let lock = try FileLock(path: layout.lock(forCatalog: catalogPath), purpose: "\(stage) worker \(tag)")
        let catalog = try Catalog(path: catalogPath)
        try sweep(catalog)
        return (catalog, lock)
    }

    /// Records the run as done and writes its reports, which describe the build, so a run with
    /// nothing left to do does not blank them.
    private func finish(_ summary: RunSummary, runID: Int, in catalog: Catalog) throws -> RunSummary {
        var summary = summary
        try catalog.finishRun(id: runID, status: "done", summaryJSON: summary.json)
        summary.build = try catalog.stageState(stage: summary.stage)
        try writeReports(summary)
        return summary
    }

    /// Writes a unit's files atomically and returns their records.
    private func write(_ outputs: [(path: String, bytes: [UInt8])]) throws -> [FileRecord] {
        try outputs.map { path, bytes in
            let written = try AtomicFile.write(bytes, to: layout.absolute(path), tag: tag)
            return FileRecord(path: path, bytes: written.bytes, sha256: written.sha256)
        }
    }

    /// Removes temporaries, and (for a single-worker build) files under the managed folders
    /// that no catalog row claims.
    /// - Returns: the paths removed.
    @discardableResult
    public func sweep(_ catalog: Catalog) throws -> [String] {
        var removed: [String] = []
        let single = options.workers == 1
        let claimed = single ? try catalog.claimedFiles() : []
        for folder in layout.managedDirectories + ["reports"] {
            let directory = layout.absolute(folder)
            removed += AtomicFile.sweepTemporaries(in: directory, tag: single ? nil : tag)
            guard single, folder != "reports", let walker = FileManager.default.enumerator(atPath: directory) else { continue }
            while let relative = walker.nextObject() as? String {
                let path = folder + "/" + relative
                var info = stat()
                guard lstat(layout.absolute(path), &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
                if !claimed.contains(path) && unlink(layout.absolute(path)) == 0 { removed.append(path) }
            }
        }
        return removed
    }

    private func writeReports(_ summary: RunSummary) throws {
        try AtomicFile.write(summary.json + "\n", to: layout.summaryReport(stage: summary.stage, worker: options.worker,
                                                                          workers: options.workers, ext: "json"), tag: tag)
        try AtomicFile.write(summary.markdown, to: layout.summaryReport(stage: summary.stage, worker: options.worker,
                                                                        workers: options.workers, ext: "md"), tag: tag)
    }
}

/// Commits units on a background thread, one at a time: a unit's rows and record are written in
/// one transaction while the runner processes the next unit. At most one commit is in flight, and
/// the runner touches the catalog only after draining it.
final class UnitCommitter {
    private let catalog: Catalog
    private var inFlight: (group: DispatchGroup, result: CommitResult, seenAfter: Int, unit: Int)?

    init(catalog: Catalog) { self.catalog = catalog }

    /// Starts committing a unit: its rows (the output's record closure), then its unit record
    /// with the outcome counts and its files.
    func start(_ output: UnitOutput, files: [FileRecord], seenAfter: Int, record base: UnitRecord) {
        precondition(inFlight == nil, "drain the commit in flight first")
        let group = DispatchGroup()
        let result = CommitResult()
        nonisolated(unsafe) let job = (catalog, output, files, base)
        DispatchQueue.global().async(group: group) {
            let (catalog, output, files, base) = job
            result.value = Result {
                try catalog.write { db -> [Outcome] in
                    // Every row the stage recorded for this unit before goes first: a sample that is
                    // no longer its input keeps no verdict or feature row from the earlier run.
                    try catalog.forgetStageRows(stage: base.stage, unit: base.unit, in: db)
                    let outcomes = try output.record(catalog, db)
                    var record = base
                    record.itemsIn = outcomes.count
                    record.itemsOK = outcomes.filter { $0 == .ok }.count
                    record.itemsSkipped = outcomes.filter { if case .skipped = $0 { true } else { false } }.count
                    record.itemsFailed = outcomes.filter { if case .failed = $0 { true } else { false } }.count
                    record.finished = Date().timeIntervalSince1970
                    try catalog.recordUnit(record, files: files, in: db)
                    return outcomes
                }
            }
        }
        inFlight = (group, result, seenAfter, base.unit)
    }

    /// Waits for the commit in flight and returns what it recorded (nil when none was).
    /// - Throws: what the commit threw.
    func drain() throws -> (outcomes: [Outcome], seenAfter: Int, unit: Int)? {
        guard let flight = inFlight else { return nil }
        inFlight = nil
        flight.group.wait()
        return (try flight.result.get(), flight.seenAfter, flight.unit)
    }

    /// Waits for the commit in flight without looking at its result (the run is failing anyway).
    func wait() { inFlight?.group.wait() }
}

/// The outcome of a background commit, read by the runner after waiting on its group.
final class CommitResult: @unchecked Sendable {
    // @unchecked: written once by the commit thread before the group leaves, read by the
    // runner only after `DispatchGroup.wait()`, which orders the two.
    var value: Result<[Outcome], any Error>?

    func get() throws -> [Outcome] {
        guard let value else { return [] }
        return try value.get()
    }
}

/// One work unit: its number, its item count, and how to load its items.
public struct WorkUnit<Item> {
    public var unit: Int
    public var count: Int
    public var load: () throws -> [Item]

    public init(unit: Int, count: Int, load: @escaping () throws -> [Item]) {
        self.unit = unit
        self.count = count
        self.load = load
    }

    /// The units a stage takes from an earlier stage's catalog: (unit, items) in unit order;
    /// each unit's items are loaded only when the runner reaches it.
    /// - Returns: the units and the total item count.
    public static func units(_ counts: [(unit: Int, count: Int)], load: @escaping (Int) throws -> [Item])
        -> (units: AnyIterator<WorkUnit<Item>>, samples: Int) {
        var index = 0
        let iterator = AnyIterator<WorkUnit<Item>> {
            guard index < counts.count else { return nil }
            let (unit, count) = counts[index]
            index += 1
            return WorkUnit(unit: unit, count: count) { try load(unit) }
        }
        return (iterator, counts.reduce(0) { $0 + $1.count })
    }
}

/// The order of the stages: a stage runs only after the one it reads has finished.
enum StageOrder {
    /// Throws `.usage` ("run <stage> first") unless `stage` has done, with `configHash`, every unit
    /// holding some of `input` (the earlier stage's input).
    static func requireDone(_ stage: String, configHash: String, unitsHolding input: Catalog.StageInput, in catalog: Catalog) throws {
        let done = try catalog.doneUnits(stage: stage, configHash: configHash)
        let needed = try catalog.units(holding: input)
        let missing = needed.subtracting(done)
        guard missing.isEmpty else {
            throw PipelineError(.usage, "run \(stage) first: \(missing.count) of \(needed.count) units are not done by \(stage) with the current config")
        }
    }
}
