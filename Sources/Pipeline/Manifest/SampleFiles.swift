/// How the files that share one key become an entry, for folders and WebDataset tars alike.
enum SampleFiles {
    static let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "webp", "gif", "bmp", "tif", "tiff"]

    /// Builds a descriptor from the files of one key (`extension -> ref`).
    static func descriptor(source: String, key: String, root: String, files: [(ext: String, ref: FileRef)],
                           maskLayout: Bool) -> EntryDescriptor {
        var entry = EntryDescriptor(source: source, key: key, root: root)
        var byExt: [String: FileRef] = [:]
        for (ext, ref) in files {
            if byExt[ext] != nil {
                entry.problem = FileIO.Refusal(.duplicateKey, "key '\(key)' has two '.\(ext)' files")
            }
            byExt[ext] = ref
        }
        let jpeg = byExt["jpg"] ?? byExt["jpeg"]
        if byExt["jpg"] != nil && byExt["jpeg"] != nil {
            entry.problem = FileIO.Refusal(.duplicateKey, "key '\(key)' has both .jpg and .jpeg images")
        }
        if let jpeg {
            entry.image = jpeg
            if let png = byExt["png"], maskLayout { entry.masks = [.instanceMap(png)] }
        } else if let png = byExt["png"] {
            entry.image = png
        } else if let other = imageExtensions.sorted().compactMap({ byExt[$0] }).first {
            entry.image = other
        }
        if let txt = byExt["txt"] { entry.caption = .file(txt) }
        entry.json = byExt["json"]
        if entry.image == nil && entry.problem == nil {
            entry.problem = FileIO.Refusal(.missingImage, "key '\(key)' has no image file (found: "
                                           + byExt.keys.sorted().map { "." + $0 }.joined(separator: ", ") + ")")
        }
        return entry
    }

    /// Whether the files of one key are a dataset tool's bookkeeping beside its samples rather
    /// than a sample: img2dataset writes `NNNNN.parquet` and `NNNNN_stats.json` next to each
    /// shard of its `files` (and `webdataset`) output. Such a key holds no image.
    static func isBookkeeping(key: String, extensions: [String]) -> Bool {
        guard !extensions.contains(where: imageExtensions.contains) else { return false }
        let base = key.split(separator: "/").last.map(String.init) ?? key
        return extensions.allSatisfy { $0 == "parquet" } || (base.hasSuffix("_stats") && extensions == ["json"])
    }

    /// Splits a file name into (key, extension) the WebDataset way: the key ends at the first
    /// dot of the base name.
    static func split(_ path: String) -> (key: String, ext: String) {
        let slash = path.lastIndex(of: "/")
        let baseStart = slash.map { path.index(after: $0) } ?? path.startIndex
        guard let dot = path[baseStart...].firstIndex(of: ".") else { return (path, "") }
        return (String(path[..<dot]), path[path.index(after: dot)...].lowercased())
    }
}
