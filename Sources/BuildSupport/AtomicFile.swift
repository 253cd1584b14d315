import Foundation

/// Crash-safe file writes: temporary name in the same directory, fsync, rename, fsync of the
/// directory. A process killed at any instant leaves either the old file, the new file, or a
/// temporary that ``sweepTemporaries(in:)`` removes.
public enum AtomicFile {
    /// The prefix every temporary file carries.
    public static let temporaryPrefix = ".tmp-"

    /// Writes `bytes` to `path` atomically.
    /// - Returns: the size and SHA-256 of what was written.
    /// - Throws: ``PipelineError`` `.io` with the OS error (disk full, read-only directory, …).
    @discardableResult
    /// - Parameter tag: names the writer in the temporary's name (`.tmp-<tag>-<name>`), so a
    ///   worker's sweep removes only its own leftovers.
    public static func write(_ bytes: [UInt8], to path: String, tag: String = "w0of1") throws -> (bytes: Int, sha256: String) {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw PipelineError(.io, "cannot create directory: \(error.localizedDescription)", file: directory)
        }
        let temporary = directory + "/" + temporaryPrefix + tag + "-" + url.lastPathComponent
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ioError("cannot create", temporary) }
        var written = 0
        let ok = bytes.withUnsafeBytes { raw -> Bool in
            while written < raw.count {
                let n = Foundation.write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 { if errno == EINTR { continue }; return false }
                written += n
            }
            return fsync(fd) == 0
        }
        let failure = ok ? nil : ioError("cannot write", temporary)
        close(fd)
        if let failure {
            unlink(temporary)
            throw failure
        }
        guard rename(temporary, path) == 0 else {
            let error = ioError("cannot rename to", path)
            unlink(temporary)
            throw error
        }
        syncDirectory(directory)
        return (bytes.count, SHA256.hex(bytes))
    }

    /// Writes UTF-8 text atomically.
    @discardableResult
    public static func write(_ text: String, to path: String, tag: String = "w0of1") throws -> (bytes: Int, sha256: String) {
        try write(Array(text.utf8), to: path, tag: tag)
    }

    /// Removes temporaries left by killed writers under `directory` (recursively); with a `tag`,
    /// only that writer's.
    /// - Returns: the paths removed.
    @discardableResult
    public static func sweepTemporaries(in directory: String, tag: String? = nil) -> [String] {
        let prefix = temporaryPrefix + (tag.map { $0 + "-" } ?? "")
        var removed: [String] = []
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        while let relative = walker.nextObject() as? String {
            let name = (relative as NSString).lastPathComponent
            if name.hasPrefix(prefix) {
                let full = directory + "/" + relative
                if unlink(full) == 0 { removed.append(full) }
            }
        }
        return removed
    }

    /// fsyncs a directory, so a rename inside it survives a power cut.
    public static func syncDirectory(_ directory: String) {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        if fd >= 0 { fsync(fd); close(fd) }
    }

    package static func ioError(_ what: String, _ path: String) -> PipelineError {
        PipelineError(.io, "\(what) file: \(String(cString: strerror(errno)))", file: path)
    }
}
