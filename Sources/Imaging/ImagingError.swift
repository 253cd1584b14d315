/// The one error type of the Imaging module.
public struct ImagingError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, as a closed set a caller can switch over.
    public enum Code: String, Sendable {
        /// The bytes are not a format this module reads.
        case notAnImage = "not_an_image"
        /// The header says JPEG/PNG but the data cannot be decoded.
        case corrupt = "corrupt_image"
        /// The stream ends before the image does.
        case truncated = "truncated_image"
        /// The image has more pixels than the configured cap.
        case tooLarge = "image_too_large"
        /// Encoding failed (bad arguments).
        case encode = "encode_failed"
    }

    /// The error class.
    public var code: Code
    /// A human-readable explanation, including the codec's own message where there is one.
    public var message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
