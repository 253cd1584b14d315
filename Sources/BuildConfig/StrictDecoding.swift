import BuildSupport
/// Decoding that refuses keys a config type does not know, naming the key and where it is.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

extension Decoder {
    /// Throws ``PipelineError`` `.config` when the mapping at this point has a key that is not
    /// one of `Keys`: `sources[0]: unknown key 'fromat' (did you mean 'format'?)`, or the keys
    /// known there when none is close.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_ keys: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let known = Keys.allCases.map(\.stringValue)
        for key in container.allKeys where !known.contains(key.stringValue) {
            let hint = ConfigKeyPath.closest(to: key.stringValue, among: known).map { "did you mean '\($0)'?" }
                ?? "known here: \(known.sorted().joined(separator: ", "))"
            let parent = ConfigKeyPath.render(codingPath)
            throw PipelineError(.config, "unknown key '\(key.stringValue)' (\(hint))", key: parent.isEmpty ? nil : parent)
        }
    }
}

/// Config key paths as a user writes them, and the closest known key to a misspelt one.
enum ConfigKeyPath {
    /// `sources[0].format`, not `sources.Index 0.format`.
    static func render(_ path: [any CodingKey]) -> String {
        var text = ""
        for key in path {
            if let index = key.intValue { text += "[\(index)]" } else { text += (text.isEmpty ? "" : ".") + key.stringValue }
        }
        return text
    }

    /// The known key within a third of `key`'s length in edits (at least one), the nearest first.
    static func closest(to key: String, among known: [String]) -> String? {
        let limit = max(1, key.count / 3)
        return known.map { ($0, distance(key, $0)) }.filter { $0.1 <= limit }
            .min { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }?.0
    }

    /// Levenshtein distance, with an adjacent swap counted as one edit.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        guard !a.isEmpty, !b.isEmpty else { return max(a.count, b.count) }
        var rows = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
        for i in 0...a.count { rows[i][0] = i }
        for j in 0...b.count { rows[0][j] = j }
        for i in 1...a.count {
            for j in 1...b.count {
                rows[i][j] = min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] { rows[i][j] = min(rows[i][j], rows[i - 2][j - 2] + 1) }
            }
        }
        return rows[a.count][b.count]
    }

    /// What a decoder expected, in words: `an integer`, `a number`, `true or false`, ….
    static func expected(_ type: Any.Type) -> String {
        switch type {
        case is Int.Type, is Int64.Type, is UInt64.Type, is Int32.Type, is UInt8.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "true or false"
        case is String.Type: return "a string"
        default:
            let name = "\(type)"
            // Yams asks for a scalar node before it knows which scalar type is wanted.
            if name == "Scalar" { return "a single value" }
            if name.hasPrefix("Array") || name.hasPrefix("[") { return "a list" }
            if name.hasPrefix("Dictionary") { return "a mapping" }
            return name
        }
    }

    /// The value at `path` in a loaded YAML tree, as the file spells it: `'abc'`, `3.5`, `a list`.
    static func value(at path: [any CodingKey], in tree: Any) -> String {
        var node: Any? = tree
        for key in path {
            if let index = key.intValue { node = (node as? [Any]).flatMap { index < $0.count ? $0[index] : nil } }
            else { node = (node as? [String: Any])?[key.stringValue] }
        }
        switch node {
        case nil: return "nothing"
        case let text as String: return "'\(text)'"
        case is [Any]: return "a list"
        case is [String: Any]: return "a mapping"
        case let other?: return "\(other)"
        }
    }
}

/// One key of a config section: how its value, when present, replaces the section's default.
struct ConfigField<Section, Keys: CodingKey> {
    let apply: (inout Section, KeyedDecodingContainer<Keys>) throws -> Void

    /// An optional key: absent (or null) keeps the default.
    static func field<Value: Decodable>(_ key: Keys, _ path: WritableKeyPath<Section, Value>) -> Self {
        Self { section, container in
            if let value = try container.decodeIfPresent(Value.self, forKey: key) { section[keyPath: path] = value }
        }
    }

    /// A key the section cannot do without (decoding fails with a missing-key error).
    static func required<Value: Decodable>(_ key: Keys, _ path: WritableKeyPath<Section, Value>) -> Self {
        Self { section, container in section[keyPath: path] = try container.decode(Value.self, forKey: key) }
    }

    /// A key read as text and checked against the values `parse` accepts; the error names the
    /// key path and the accepted values.
    static func choice<Value>(_ key: Keys, _ path: WritableKeyPath<Section, Value>, required: Bool = false, known: [String],
                              _ parse: @escaping (String) -> Value?) -> Self {
        Self { section, container in
            guard let text = required ? try container.decode(String.self, forKey: key)
                    : try container.decodeIfPresent(String.self, forKey: key) else { return }
            guard let value = parse(text) else {
                throw PipelineError(.config, "unknown \(key.stringValue) '\(text)' (known: \(known.joined(separator: ", ")))",
                                    key: ConfigKeyPath.render(container.codingPath + [key]))
            }
            section[keyPath: path] = value
        }
    }
}

extension Decoder {
    /// The one way config sections decode: unknown keys refused by name (with a suggestion),
    /// then each known key that is present replaces its value in `defaults`.
    func decodeSection<Section, Keys: CodingKey & CaseIterable>(_ defaults: Section, _ keys: Keys.Type,
                                                                _ fields: [ConfigField<Section, Keys>]) throws -> Section {
        try rejectUnknownKeys(keys)
        let container = try self.container(keyedBy: keys)
        var section = defaults
        for field in fields { try field.apply(&section, container) }
        return section
    }
}
