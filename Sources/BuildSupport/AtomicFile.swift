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
        let writer = try Writer(path: path, tag: tag)
        try bytes.withUnsafeBytes { try writer.write($0, at: 0) }
        try writer.commit()
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

    /// A file written in pieces at known offsets (from any thread) and published atomically:
    /// the pieces go to the temporary, ``commit()`` fsyncs and renames it into place; a writer
    /// dropped without committing (an error, a failed item) removes its temporary, so no reader
    /// ever sees a part-written file under the final name.
    public final class Writer: @unchecked Sendable {
        public let path: String
        let temporary: String
        let directory: String
        let fd: Int32
        var finished = false

        /// Creates the temporary (and the directory).
        public init(path: String, tag: String = "w0of1") throws {
            let url = URL(fileURLWithPath: path)
            directory = url.deletingLastPathComponent().path
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw PipelineError(.io, "cannot create directory: \(error.localizedDescription)", file: directory)
            }
            self.path = path
            temporary = directory + "/" + temporaryPrefix + tag + "-" + url.lastPathComponent
            fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw ioError("cannot create", temporary) }
        }

        /// Writes `bytes` at `offset` (pwrite: safe from several threads at disjoint offsets).
        public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
            var done = 0
            while done < bytes.count {
                let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw ioError("cannot write", temporary)
                }
                done += n
            }
        }

        /// fsyncs the temporary and renames it to `path`.
        public func commit() throws {
            precondition(!finished, "commit after commit or discard")
            finished = true
            let synced = fsync(fd) == 0
            let failure = synced ? nil : ioError("cannot write", temporary)
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
        }

        /// Removes the temporary; the file at `path` (if any) is untouched.
        public func discard() {
            guard !finished else { return }
            finished = true
            close(fd)
            unlink(temporary)
        }

        deinit { discard() }
    }

    package static func ioError(_ what: String, _ path: String) -> PipelineError {
        PipelineError(.io, "\(what) file: \(String(cString: strerror(errno)))", file: path)
    }
}
