import BuildConfig
public import Catalog
import Foundation

/// What one stage run did: stored in `runs.summary_json`, printed, and written under reports/.
public struct RunSummary: Codable, Sendable, Equatable {
    public var stage: String
    public var worker: Int
    public var workers: Int
    public var configHash: String
    /// Units this worker owns.
    public var unitsOwned = 0
    /// Units processed in this run.
    public var unitsProcessed = 0
    /// Units skipped because they were already done for this config.
    public var unitsAlreadyDone = 0
    /// Items read in processed units.
    public var itemsIn = 0
    public var itemsOK = 0
    public var itemsSkipped = 0
    public var itemsFailed = 0
    /// `skipped:reason` and `failed:reason` with counts.
    public var reasons: [String: Int] = [:]
    public private(set) var seconds: Double = 0
    /// The stage's state across the build after this run (every done unit, not only this
    /// run's): what the reports describe first. Not stored in `runs.summary_json`.
    public var build: StageState?
    /// Processed items per second.
    public private(set) var itemsPerSecond: Double = 0
    /// The matrix engines the stage's model ran on (model stages only), e.g. "bf16 on oneDNN
    /// brg:avx512_core_bf16 (AMD family 25 model 17: AVX512-BF16, AVX-512, AVX2)".
    public var engines: String?

    enum CodingKeys: String, CodingKey {
        case stage, worker, workers, configHash = "config_hash", unitsOwned = "units_owned"
        case unitsProcessed = "units_processed", unitsAlreadyDone = "units_already_done", itemsIn = "items_in"
        case itemsOK = "items_ok", itemsSkipped = "items_skipped", itemsFailed = "items_failed", reasons, seconds
        case itemsPerSecond = "items_per_second", build, engines
    }

    public init(stage: String, worker: Int, workers: Int, configHash: String) {
        self.stage = stage
        self.worker = worker
        self.workers = workers
        self.configHash = configHash
    }

    /// Records the run's wall time (to the millisecond) and its rate (to 0.1 item/s).
    public mutating func finish(seconds elapsed: Double) {
        seconds = (elapsed * 1000).rounded() / 1000
        itemsPerSecond = seconds > 0 ? (Double(itemsIn) / seconds * 10).rounded() / 10 : 0
    }

    /// Adds one item's outcome.
    mutating func count(_ outcome: Outcome) {
        itemsIn += 1
        switch outcome {
        case .ok: itemsOK += 1
        case .skipped: itemsSkipped += 1
        case .failed: itemsFailed += 1
        }
        if let reason = outcome.reason { reasons["\(outcome.status):\(reason.rawValue)", default: 0] += 1 }
    }

    /// JSON with sorted keys.
    public var json: String { ConfigLoader.canonicalJSON(self) }

    /// The summary as a human-readable block.
    public var text: String {
        var lines = ["\(stage) summary" + (workers > 1 ? " (worker \(worker) of \(workers))" : "")]
        lines.append("  units: \(unitsProcessed) processed, \(unitsAlreadyDone) already done, \(unitsOwned) owned")
        lines.append("  items: \(itemsIn) in, \(itemsOK) ok, \(itemsSkipped) skipped, \(itemsFailed) failed")
        for (reason, count) in reasons.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }) {
            lines.append("    \(reason): \(count)")
        }
        lines.append(String(format: "  time: %.2f s, %.1f items/s", seconds, itemsPerSecond))
        if let engines { lines.append("  engines: \(engines)") }
        lines.append("  config hash: \(configHash)")
        if let build {
            lines.append("  build: \(build.unitsDone) units done, \(build.itemsIn) items: \(build.itemsOK) ok, "
                         + "\(build.itemsSkipped) skipped, \(build.itemsFailed) failed")
        }
        return lines.joined(separator: "\n")
    }

    /// The report as Markdown: the stage's state across the build (when known), then this run.
    public var markdown: String {
        var md = "# \(stage) report\n\n"
        if let build {
            md += "## The build\n\nEvery unit done so far" + (workers > 1 ? " by worker \(worker) of \(workers)" : "") + ".\n\n"
            md += "| | |\n|---|---|\n| units done | \(build.unitsDone) |\n| items in | \(build.itemsIn) |\n"
            md += "| ok | \(build.itemsOK) |\n| skipped | \(build.itemsSkipped) |\n| failed | \(build.itemsFailed) |\n"
            if !build.reasons.isEmpty {
                md += "\n| status:reason | count |\n|---|---|\n"
                for (reason, count) in build.reasons.sorted(by: { $0.key < $1.key }) { md += "| \(reason) | \(count) |\n" }
            }
            md += "\n## The last run\n\n"
        }
        md += "| | |\n|---|---|\n"
        md += "| worker | \(worker) of \(workers) |\n| config hash | `\(configHash)` |\n"
        md += "| units processed / already done / owned | \(unitsProcessed) / \(unitsAlreadyDone) / \(unitsOwned) |\n"
        md += "| items in | \(itemsIn) |\n| ok | \(itemsOK) |\n| skipped | \(itemsSkipped) |\n| failed | \(itemsFailed) |\n"
        md += String(format: "| seconds | %.2f |\n| items/s | %.1f |\n", seconds, itemsPerSecond)
        if let engines { md += "| engines | \(engines) |\n" }
        if !reasons.isEmpty {
            md += "\n| status:reason (this run) | count |\n|---|---|\n"
            for (reason, count) in reasons.sorted(by: { $0.key < $1.key }) { md += "| \(reason) | \(count) |\n" }
        }
        return md
    }
}
