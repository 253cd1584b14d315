import Foundation

/// Progress reporting: a live line (items/s, ETA, failures) on a terminal, plain log lines
/// every few seconds otherwise.
struct Progress {
    let stage: String
    let total: Int?
    let isTerminal: Bool
    let started = Date()
    private var lastPrint = Date.distantPast
    /// Seconds between lines: 0.1 on a terminal, 5 otherwise.
    var interval: Double

    init(stage: String, total: Int?) {
        self.stage = stage
        self.total = total
        isTerminal = isatty(STDERR_FILENO) != 0
        interval = isTerminal ? 0.1 : 5.0
    }

    /// - Parameters:
    ///   - done: items behind us (processed now or in an earlier run).
    ///   - processed: items processed by this run (the rate and ETA use these).
    mutating func update(done: Int, processed: Int, failed: Int, force: Bool = false) {
        let now = Date()
        guard force || now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        let elapsed = max(now.timeIntervalSince(started), 1e-6)
        let rate = Double(processed) / elapsed
        var line = "[\(stage)] \(done)" + (total.map { "/\($0)" } ?? "") + String(format: " items  %.1f/s", rate)
        if done > processed { line += "  (\(done - processed) already done)" }
        if let total, rate > 0, done <= total {
            let eta = Int(Double(total - done) / rate)
            line += String(format: "  ETA %d:%02d", eta / 60, eta % 60)
        }
        line += "  failed \(failed)"
        if isTerminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
        } else {
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func finish() {
        if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// Items a stage has finished within the unit it is processing, counted as it goes (from any
/// thread), so progress shows between units too. Embed counts item-equivalents of the rows it
/// has encoded.
public final class ItemProgress: @unchecked Sendable {
    // @unchecked: `count` is only touched under `lock`.
    private let lock = NSLock()
    private var count = 0

    public init() {}

    /// Adds `n` finished items.
    public func advance(by n: Int = 1) {
        lock.lock()
        count += n
        lock.unlock()
    }

    /// Raises the count to `n` (never lowers it).
    public func reach(_ n: Int) {
        lock.lock()
        count = max(count, n)
        lock.unlock()
    }

    public var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return count
    }
}

/// ``Progress`` fed at unit boundaries by the runner and, while a unit is processed, by a timer
/// that reads the unit's ``ItemProgress``: a live line on a terminal, a log line every 5 s
/// otherwise (`ECLIPSE_PROGRESS_INTERVAL` seconds, for tests), whatever the unit size.
final class LiveProgress: @unchecked Sendable {
    // @unchecked: every field is touched under `lock` (the timer runs on a background queue).
    private let lock = NSLock()
    private var progress: Progress
    private var base = (done: 0, processed: 0, failed: 0)
    private var current: ItemProgress?
    private let timer: any DispatchSourceTimer

    init(_ progress: Progress) {
        self.progress = progress
        let interval = ProcessInfo.processInfo.environment["ECLIPSE_PROGRESS_INTERVAL"].flatMap(Double.init)
            ?? (progress.isTerminal ? 0.1 : 5.0)
        self.progress.interval = interval
        timer = DispatchSource.makeTimerSource(queue: DispatchQueue.global(qos: .utility))
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in self?.tick() }
        timer.resume()
    }

    /// Items behind the runner, and the unit now being processed (nil between units).
    func set(done: Int, processed: Int, failed: Int, current: ItemProgress?, force: Bool = false) {
        lock.lock()
        defer { lock.unlock() }
        base = (done, processed, failed)
        self.current = current
        progress.update(done: done, processed: processed, failed: failed, force: force)
    }

    private func tick() {
        lock.lock()
        defer { lock.unlock() }
        guard let current else { return }
        let extra = current.value
        progress.update(done: base.done + extra, processed: base.processed + extra, failed: base.failed)
    }

    func finish() {
        timer.cancel()
        lock.lock()
        defer { lock.unlock() }
        progress.finish()
    }
}
