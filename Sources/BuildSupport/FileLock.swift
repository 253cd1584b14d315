import Foundation

/// An exclusive advisory lock (flock) on a file, held for the life of the object. The file
/// names the holder (pid and host) so a refused process can say who holds it.
public final class FileLock {
    private let fd: Int32
    /// The lock file.
    public let path: String

    /// Takes the lock or throws at once.
    /// - Throws: ``PipelineError`` `.locked` naming the holder.
    public init(path: String, purpose: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw AtomicFile.ioError("cannot open lock", path) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder = (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? "another process"
            close(fd)
            throw PipelineError(.locked, "locked by \(holder.isEmpty ? "another process" : holder); "
                                + "wait for it to finish, or split the work with --workers N --worker K", file: path)
        }
        let text = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName) (\(purpose))\n"
        ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }
}
