import BuildSupport
import Foundation
import Imaging

/// Reading the two import layouts into records; a record that cannot be read carries its reason.
extension MaskImport {
    /// One record per non-empty line of a JSONL file; PNG paths are relative to its folder.
    func parseJSONL(_ path: String) throws -> [Parsed] {
        guard FileManager.default.isReadableFile(atPath: path) else {
            throw PipelineError(.usage, "cannot read the import file", file: path)
        }
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var reader = LineReader(path: path)
        var records: [Parsed] = []
        var number = 0
        while let line = reader.next() {
            number += 1
            guard line.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { continue }
            records.append(parseLine(line, number: number, folder: folder))
        }
        return records
    }

    func parseLine(_ line: [UInt8], number: Int, folder: String) -> Parsed {
        var record = Parsed()
        let json: JSONValue
        do { json = try JSONValue.parse(line) } catch {
            record.problem = (.badJSON, "line \(number): \(error)")
            return record
        }
        record.sampleID = json["sample_id"]?.string
        record.source = json["source"]?.string ?? source
        record.key = json["key"]?.string
        record.label = json["label"]?.string
        record.score = json["score"]?.number
        record.box = json["box"]?.array?.compactMap(\.number)
        guard record.sampleID != nil || (record.source != nil && record.key != nil) else {
            record.problem = (.badRecord, "line \(number): give sample_id, or source and key")
            return record
        }
        switch json["mask"] {
        case .string(let png)?:
            record.mask = .png(path: png.hasPrefix("/") ? png : folder + "/" + png)
        case .array(let polygons)?:
            // [[x, y, …], …] or one flat [x, y, …].
            let lists = polygons.allSatisfy({ $0.number != nil }) ? [polygons] : polygons.map { $0.array ?? [] }
            let numbers = lists.map { $0.compactMap(\.number) }
            guard zip(lists, numbers).allSatisfy({ $0.count == $1.count }) else {
                record.problem = (.badRecord, "line \(number): a polygon holds something other than numbers")
                return record
            }
            record.mask = .segmentation(.polygons(numbers))
        case let rle? where rle["counts"] != nil:
            let size = rle["size"]?.array?.compactMap(\.int) ?? []
            guard size.count == 2 else {
                record.problem = (.badRecord, "line \(number): an RLE needs size [height, width]")
                return record
            }
            if let counts = rle["counts"]?.string {
                record.mask = .segmentation(.rleString(counts, height: size[0], width: size[1]))
            } else {
                record.mask = .segmentation(.rleCounts(rle["counts"]?.array?.compactMap(\.int) ?? [], height: size[0], width: size[1]))
            }
        default:
            record.problem = (.badRecord, "line \(number): mask must be an RLE object, a polygon list or a PNG path")
        }
        return record
    }

    /// Grounded-SAM output under `root`: per sample a folder `<id>/` holding `mask.json` and
    /// `mask.png`, or a pair `<id>.json` + `<id>.png`; `<id>` is a sample id, or a key of the
    /// source given to the import. Folders and pairs are read in name order.
    func parseGroundedSAM(_ root: String) throws -> [Parsed] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else {
            throw PipelineError(.usage, "cannot read the Grounded-SAM folder", file: root)
        }
        var records: [Parsed] = []
        for name in names.sorted() {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root + "/" + name, isDirectory: &isFolder) else { continue }
            let (id, json, png): (String, String, String)
            if isFolder.boolValue {
                (id, json, png) = (name, "\(root)/\(name)/mask.json", "\(root)/\(name)/mask.png")
                guard FileManager.default.fileExists(atPath: json) else { continue }
            } else if name.hasSuffix(".json") {
                id = String(name.dropLast(5))
                (json, png) = ("\(root)/\(name)", "\(root)/\(id).png")
            } else {
                continue
            }
            records += parseMaskList(json: json, png: png, id: id)
        }
        return records
    }

    /// The masks of one `mask.json` (background left out); a label written `dog(0.47)` gives
    /// its logit when the entry has none.
    func parseMaskList(json path: String, png: String, id: String) -> [Parsed] {
        var base = Parsed()
        if let source { (base.source, base.key) = (source, id) } else { base.sampleID = id }
        let list: [JSONValue]
        do {
            let value = try JSONValue.parse(try FileIO.read(path, maxBytes: 1 << 26))
            // Grounded-SAM writes the list itself; Subject-Diffusion nests it under "mask".
            guard let entries = value.array ?? value["mask"]?.array else { throw PipelineError(.usage, "not a list of masks") }
            list = entries
        } catch {
            base.problem = (.badJSON, "\(path): \(error)")
            return [base]
        }
        return list.compactMap { entry -> Parsed? in
            guard let value = entry["value"]?.int, value != 0 else { return nil }
            var record = base
            var label = entry["label"]?.string
            var logit = entry["logit"]?.number
            if let text = label, text.hasSuffix(")"), let open = text.lastIndex(of: "(") {
                logit = logit ?? Double(text[text.index(after: open)..<text.index(before: text.endIndex)])
                label = String(text[..<open]).trimmingCharacters(in: .whitespaces)
            }
            (record.label, record.score) = (label, logit)
            record.box = entry["box"]?.array?.compactMap(\.number)
            record.mask = .instanceValue(path: png, value: value)
            return record
        }
    }
}
