import BuildConfig
import BuildSupport
import Foundation

/// Entries of a JSON-lines, CSV or TSV list: one sample per line/record, with image paths
/// relative to the list file's folder.
struct ListSource {
    let name: String
    let config: SourceConfig

    var root: String { (config.path as NSString).deletingLastPathComponent }

    func entries() -> AnyIterator<EntryDescriptor> {
        switch config.format {
        case .jsonl:
            var lines = LineReader(path: config.path)
            var number = 0
            return AnyIterator {
                while let line = lines.next() {
                    number += 1
                    if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
                    guard let parsed = try? JSONValue.parse(line), parsed.members != nil else {
                        return EntryDescriptor(source: name, key: "line:\(number)", root: root,
                                               problem: FileIO.Refusal(.badRecord, "line \(number) is not a JSON object"))
                    }
                    return describe(parsed, fallbackKey: "line:\(number)")
                }
                return nil
            }
        default:
            var reader = DelimitedReader(path: config.path, separator: config.format == .tsv ? 0x09 : 0x2C)
            guard let header = reader.next() else { return AnyIterator { nil } }
            let columns = header.map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
            return AnyIterator {
                guard let fields = reader.next() else { return nil }
                let key = "line:\(reader.lineNumber)"
                guard fields.count == columns.count else {
                    return EntryDescriptor(source: name, key: key, root: root, problem: FileIO.Refusal(
                        .badRecord, "line \(reader.lineNumber) has \(fields.count) fields, the header has \(columns.count)"))
                }
                var object: [(String, JSONValue)] = []
                for (column, field) in zip(columns, fields) {
                    guard let text = String(validating: field, as: UTF8.self) else {
                        if column == config.captionColumn {
                            object.append((Self.nonUTF8Marker, .bool(true)))
                            continue
                        }
                        return EntryDescriptor(source: name, key: key, root: root, problem: FileIO.Refusal(
                            .nonUTF8Text, "column '\(column)' on line \(reader.lineNumber) is not valid UTF-8"))
                    }
                    object.append((column, .string(text)))
                }
                return describe(.object(object), fallbackKey: key)
            }
        }
    }

    static let nonUTF8Marker = "\u{0}non_utf8_caption"

    private func describe(_ object: JSONValue, fallbackKey: String) -> EntryDescriptor {
        let imagePath = object[config.imageColumn]?.string
        let key = object[config.keyColumn]?.string.flatMap { $0.isEmpty ? nil : $0 }
            ?? object[config.keyColumn]?.int.map(String.init)
            ?? imagePath.map { SampleFiles.split($0).key } ?? fallbackKey
        var entry = EntryDescriptor(source: name, key: key, root: root)
        guard let imagePath, !imagePath.isEmpty else {
            entry.problem = FileIO.Refusal(.missingImage, "record has no '\(config.imageColumn)' path")
            return entry
        }
        if imagePath.hasPrefix("http://") || imagePath.hasPrefix("https://") {
            entry.problem = FileIO.Refusal(.remoteURL, "remote URLs are not downloaded; fetch them first (e.g. img2dataset)")
            return entry
        }
        entry.image = .file(imagePath)
        if object[Self.nonUTF8Marker] != nil {
            entry.problem = FileIO.Refusal(.nonUTF8Caption, "caption is not valid UTF-8")
        } else if let caption = object[config.captionColumn]?.string {
            entry.caption = .text(caption)
        }
        if let mask = object[config.maskColumn]?.string, !mask.isEmpty { entry.masks.append(.instanceMap(.file(mask))) }
        for m in object["masks"]?.array ?? [] {
            guard let path = m["path"]?.string else { continue }
            entry.masks.append(.binary(.file(path), label: m["label"]?.string, box: m["box"]?.array?.compactMap(\.number)))
        }
        return entry
    }
}
