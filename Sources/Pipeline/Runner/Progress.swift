import Foundation

/// Progress reporting: a live line (items/s, ETA, failures) on a terminal, plain log lines
/// every few seconds otherwise.
struct Progress {
    let stage: String
    let total: Int?
    let isTerminal: Bool
    let started = Date()
    private var lastPrint = Date.distantPast

    init(stage: String, total: Int?) {
        self.stage = stage
        self.total = total
        isTerminal = isatty(STDERR_FILENO) != 0
    }

    /// - Parameters:
    ///   - done: items behind us (processed now or in an earlier run).
    ///   - processed: items processed by this run (the rate and ETA use these).
    mutating func update(done: Int, processed: Int, failed: Int, force: Bool = false) {
        let now = Date()
        let interval = isTerminal ? 0.1 : 5.0
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
