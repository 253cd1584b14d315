import BuildSupport
import Foundation

/// The finished batches of a unit that is not committed yet, kept under
/// `scratch/<stage>/unit-NNNNN/` so that a run interrupted inside a unit (Ctrl-C, a scheduler's
/// stop, a kill) loses at most the batch it was in: the rerun reads the finished batches back
/// instead of computing them again.
///
/// A batch is stored under its name, the stage's config hash and a digest of its exact inputs,
/// written temp + fsync + rename; a file whose name or size does not match is never read. So a
/// reused batch holds the bytes the same computation gives, and the unit's final files are
/// those of an uninterrupted run. The runner removes the folder once the unit is committed.
public final class UnitScratch {
    /// The unit's scratch folder.
    public let directory: String
    private let prefix: String
    /// Batches read back from an earlier run, and batches computed (and saved) by this one.
    public private(set) var reused = 0, computed = 0
    /// Test hook for interrupt tests: `ECLIPSE_BATCH_DELAY_MS` pauses after each saved batch.
    private let batchDelay = ProcessInfo.processInfo.environment["ECLIPSE_BATCH_DELAY_MS"].flatMap(Double.init).map { $0 / 1000 }

    /// Opens the unit's folder, removing writers' leftovers and batches of other configs.
    public init(layout: BuildLayout, stage: String, unit: Int, configHash: String) {
        directory = layout.absolute(Self.relativePath(stage: stage, unit: unit))
        prefix = String(configHash.prefix(16)) + "-"
        AtomicFile.sweepTemporaries(in: directory)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !name.hasPrefix(prefix) {
            unlink(directory + "/" + name)
        }
    }

    /// `scratch/<stage>/unit-NNNNN`, relative to the build.
    public static func relativePath(stage: String, unit: Int) -> String {
        String(format: "scratch/%@/unit-%05d", stage, unit)
    }

    /// The digest that names a batch's inputs.
    public static func digest(_ parts: [[UInt8]]) -> String {
        var hasher = SHA256()
        for part in parts { add(part, to: &hasher) }
        return hasher.finalize().hexPrefix(16)
    }

    /// The digest of arrays of plain values (token ids, pixel values), hashed in place.
    public static func digest<T>(values parts: [[T]]) -> String {
        var hasher = SHA256()
        for part in parts {
            part.withUnsafeBytes { raw in add(UnsafeBufferPointer(start: raw.baseAddress?.assumingMemoryBound(to: UInt8.self), count: raw.count), to: &hasher) }
        }
        return hasher.finalize().hexPrefix(16)
    }

    private static func add<C: Collection>(_ bytes: C, to hasher: inout SHA256) where C.Element == UInt8 {
        hasher.update(String(bytes.count) + ":")
        hasher.update(bytes)
    }

    /// The bytes of a batch: read back when a finished copy with these inputs is here, else
    /// computed by `compute` and saved before they are returned.
    /// - Parameters:
    ///   - name: the batch's place in the unit (`image-000016`).
    ///   - inputs: `digest(_:)` of everything the batch's result depends on besides the config.
    ///   - size: the result's byte count when known in advance (a file of another size is redone).
    public func batch(_ name: String, inputs: String, size: Int? = nil, compute: () throws -> [UInt8]) throws -> [UInt8] {
        let path = directory + "/" + prefix + name + "-" + inputs + ".bin"
        if let bytes = FileManager.default.contents(atPath: path), size == nil || bytes.count == size! {
            reused += 1
            return Array(bytes)
        }
        let bytes = try compute()
        try AtomicFile.write(bytes, to: path)
        computed += 1
        if let batchDelay { Thread.sleep(forTimeInterval: batchDelay) }
        return bytes
    }

    /// Removes a saved batch that cannot be read back (written by another version of the stage),
    /// so that the next ``batch(_:inputs:size:compute:)`` computes and saves it again.
    public func discard(_ name: String, inputs: String) {
        try? FileManager.default.removeItem(atPath: directory + "/" + prefix + name + "-" + inputs + ".bin")
        reused -= 1
    }

    /// A batch of float32 values (stored little-endian).
    public func floats(_ name: String, inputs: String, count: Int, compute: () throws -> [Float]) throws -> [Float] {
        var values: [Float] = []
        let bytes = try batch(name, inputs: inputs, size: count * 4) {
            values = try compute()
            precondition(values.count == count, "batch \(name): \(values.count) values, expected \(count)")
            return values.withUnsafeBytes { Array($0) }
        }
        guard values.isEmpty else { return values }
        return [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
            bytes.withUnsafeBytes { raw in _ = memcpy(buffer.baseAddress!, raw.baseAddress!, count * 4) }
            initialized = count
        }
    }

    /// A batch of `count` results stored as JSON: read back when a finished copy with these
    /// inputs decodes to `count` values, else (none, or one another version of the stage wrote)
    /// computed and saved. `reused` says which.
    public func results<T: Codable>(_ name: String, inputs: String, count: Int, compute: () throws -> [T]) throws -> (values: [T], reused: Bool) {
        var computedValues: [T]?
        func run() throws -> [UInt8] {
            try batch(name, inputs: inputs) {
                let values = try compute()
                computedValues = values
                return Array(try JSONEncoder().encode(values))
            }
        }
        let bytes = try run()
        if let computedValues { return (computedValues, false) }
        if let stored = try? JSONDecoder().decode([T].self, from: Data(bytes)), stored.count == count { return (stored, true) }
        discard(name, inputs: inputs)
        _ = try run()
        return (computedValues ?? [], false)
    }

    /// Says on standard error how many batches were read back, when any were.
    public func announce(stage: String, unit: Int) {
        guard reused > 0 else { return }
        FileHandle.standardError.write(Data("\n\(stage): unit \(unit): reused \(reused) finished batches of an interrupted run, computed \(computed)\n".utf8))
    }

    /// Removes a unit's scratch folder (the unit is committed, or done already).
    public static func remove(layout: BuildLayout, stage: String, unit: Int) {
        let path = layout.absolute(relativePath(stage: stage, unit: unit))
        guard FileManager.default.fileExists(atPath: path) else { return }
        try? FileManager.default.removeItem(atPath: path)
        // The stage's folder and scratch/ go once empty (rmdir refuses a folder that is not).
        rmdir(layout.absolute("scratch/" + stage))
        rmdir(layout.absolute("scratch"))
    }
}
