/// Errors of the Catalog module that are not SQLite's own.
public struct CatalogError: Error, CustomStringConvertible, Sendable {
    /// The error class.
    public enum Code: String, Sendable {
        case schemaTooNew = "schema_too_new"
        case notACatalog = "not_a_catalog"
        /// A column holds what this code never writes there (hand-edited or damaged).
        case corrupt
    }

    public var code: Code
    public var message: String
    /// The catalog file involved.
    public var path: String

    public init(_ code: Code, _ message: String, path: String) {
        self.code = code
        self.message = message
        self.path = path
    }

    public var description: String { "\(path): \(message)" }
}
