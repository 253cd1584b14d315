import BuildSupport
public import Catalog
import Foundation
public import Imaging

/// Bounded, root-confined file reads for manifest inputs.
public enum FileIO {
    /// The whole of an input file named on a command line, or a ``PipelineError`` `.usage` that
    /// says which option and file, and why (missing, a folder, unreadable): never Foundation's
    /// `NSCocoaErrorDomain Code=260`.
    public static func readInput(_ path: String, option: String) throws -> [UInt8] {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw PipelineError(.usage, "\(option) \(path): no such file")
        }
        guard !isFolder.boolValue else { throw PipelineError(.usage, "\(option) \(path): is a folder, not a file") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PipelineError(.usage, "\(option) \(path): cannot be read (\(String(cString: strerror(errno))))")
        }
        return Array(data)
    }

    /// Why a read was refused: a reason code as recorded per sample, and a message.
    public struct Refusal: Error, Sendable, Equatable {
        public var reason: Reason
        public var message: String
        public init(_ reason: Reason, _ message: String) {
            self.reason = reason
            self.message = message
        }
    }

    /// Checks that a manifest path stays inside `root`: not absolute, no `..` that leaves it,
    /// and no symlink (anywhere on the path) that resolves outside it.
    /// - Returns: the absolute path.
    public static func confine(_ relative: String, to root: String) throws(Refusal) -> String {
        if relative.isEmpty { throw Refusal(.missingImage, "empty path") }
        if relative.hasPrefix("/") || relative.hasPrefix("~") {
            throw Refusal(.pathEscape, "absolute path '\(relative)' is not allowed; paths are relative to the dataset root")
        }
        var depth = 0
        for part in relative.split(separator: "/") {
            if part == ".." { depth -= 1 } else if part != "." { depth += 1 }
            if depth < 0 { throw Refusal(.pathEscape, "path '\(relative)' leaves the dataset root") }
        }
        let full = root + "/" + relative
        var info = stat()
        guard lstat(full, &info) == 0 else {
            throw Refusal(.missingFile, "no such file '\(relative)'")
        }
        if (info.st_mode & S_IFMT) == S_IFLNK || relative.contains("/") {
            guard let real = realpath(full, nil) else { throw Refusal(.missingFile, "dangling symlink '\(relative)'") }
            defer { free(real) }
            let resolved = String(cString: real)
            let rootReal = realpath(root, nil).map { p -> String in defer { free(p) }; return String(cString: p) } ?? root
            if !(resolved == rootReal || resolved.hasPrefix(rootReal + "/")) {
                throw Refusal(.pathEscape, "'\(relative)' is a symlink (or under one) that resolves outside the dataset root")
            }
        }
        return full
    }

    /// Reads a whole regular file of at most `maxBytes`.
    public static func read(_ path: String, maxBytes: Int) throws(Refusal) -> [UInt8] {
        try read(path, offset: 0, size: nil, maxBytes: maxBytes)
    }

    /// Reads `size` bytes at `offset` (the whole file when `size` is nil), refusing more than
    /// `maxBytes` and files that end early.
    public static func read(_ path: String, offset: Int, size: Int?, maxBytes: Int) throws(Refusal) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Refusal(.unreadable, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw Refusal(.unreadable, "not a regular file")
        }
        let fileSize = Int(info.st_size)
        let count = size ?? fileSize
        guard count <= maxBytes else {
            throw Refusal(.fileTooLarge, "\(count) bytes exceeds the cap of \(maxBytes)")
        }
        guard offset + count <= fileSize else {
            throw Refusal(.truncatedFile, "file ends at \(fileSize) bytes, \(offset + count) expected")
        }
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, count - done, off_t(offset + done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw Refusal(.unreadable, "read failed: \(n < 0 ? String(cString: strerror(errno)) : "end of file")") }
            done += n
        }
        return bytes
    }
}

extension Outcome {
    /// The verdict on a sample whose image could not be read or decoded: the file refusal's
    /// reason, the decoder's, else `unreadable`; `context` goes before the message.
    public static func failed(reading error: any Error, context: String = "") -> Outcome {
        switch error {
        case let refusal as FileIO.Refusal: .failed(refusal.reason, context + refusal.message)
        case let imaging as ImagingError: .failed(Reason(imaging.code), context + imaging.message)
        default: .failed(.unreadable, context + "\(error)")
        }
    }
}

extension Reason {
    /// The reason an image that cannot be decoded is recorded under.
    public init(_ code: ImagingError.Code) {
        switch code {
        case .notAnImage: self = .notAnImage
        case .corrupt: self = .corruptImage
        case .truncated: self = .truncatedImage
        case .tooLarge: self = .imageTooLarge
        case .encode: self = .encodeFailed
        }
    }
}
