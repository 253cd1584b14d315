import Foundation

/// The stages' one way to work on a unit's items concurrently.
enum ParallelMap {
    /// `transform` of every item, computed on all cores, in item order. `transform` must only
    /// read shared state (the stages' are pure functions of the item and their immutable config,
    /// which is why the captures are not checked for `Sendable` here, in this one place).
    static func map<T, R>(_ items: [T], _ transform: (T) -> R) -> [R] {
        var results = [R?](repeating: nil, count: items.count)
        withoutActuallyEscaping(transform) { transform in
            results.withUnsafeMutableBufferPointer { buffer in
                // Each iteration writes its own slot only.
                nonisolated(unsafe) let out = buffer, work = transform, input = items
                DispatchQueue.concurrentPerform(iterations: input.count) { i in out[i] = work(input[i]) }
            }
        }
        return results.map { $0! }
    }
}
