import Catalog
import Foundation

/// Ends a stage run cleanly on SIGINT (Ctrl-C) or SIGTERM (a scheduler's stop): the run is
/// recorded as `interrupted` in the catalog (through a connection of its own, after any commit in
/// flight), a line says how to resume, and the process exits 130 or 143. What it leaves is what a
/// kill leaves — committed units, and temporaries the next start sweeps — so the same command
/// resumes; only the run's record differs (it no longer stays `running`).
final class InterruptHandler {
    private var sources: [any DispatchSourceSignal] = []

    init(stage: String, catalogPath: String, runID: Int) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: DispatchQueue.global(qos: .userInitiated))
            source.setEventHandler {
                let name = number == SIGINT ? "SIGINT" : "SIGTERM"
                if let catalog = try? Catalog(path: catalogPath) {
                    try? catalog.finishRun(id: runID, status: "interrupted", summaryJSON: #"{"interrupted_by":"\#(name)"}"#)
                }
                FileHandle.standardError.write(Data("\n\(stage): interrupted by \(name); finished units (and the finished batches of the unit in progress) are kept: run the same command to resume\n".utf8))
                _exit(128 + number)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Back to the default actions (the run has finished).
    func cancel() {
        for source in sources { source.cancel() }
        sources = []
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    deinit { cancel() }
}
