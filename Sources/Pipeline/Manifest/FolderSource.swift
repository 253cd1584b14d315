import Foundation

/// Entries of a folder tree of `key.jpg` + `key.txt` (+ `key.json`, `key.png`), in sorted
/// order, one directory listing in memory at a time.
struct FolderSource {
    let name: String
    let root: String

    func entries() -> AnyIterator<EntryDescriptor> {
        var stack: [String] = [""]          // directories still to list, relative to root
        var pending: [EntryDescriptor] = [] // entries of the current directory, reversed
        return AnyIterator {
            while true {
                if let next = pending.popLast() { return next }
                guard let directory = stack.popLast() else { return nil }
                let (entries, subdirectories) = listDirectory(directory)
                pending = entries.reversed()
                stack += subdirectories.reversed()
            }
        }
    }

    private func listDirectory(_ relative: String) -> ([EntryDescriptor], [String]) {
        let full = relative.isEmpty ? root : root + "/" + relative
        guard let dir = opendir(full) else { return ([], []) }
        defer { closedir(dir) }
        var groups: [String: [(ext: String, ref: FileRef)]] = [:]
        var linked = Set<String>()
        var subdirectories: [String] = []
        var problems: [EntryDescriptor] = []
        while let item = readdir(dir) {
            let name = withUnsafeBytes(of: item.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let path = relative.isEmpty ? name : relative + "/" + name
            var type = item.pointee.d_type
            if type == UInt8(DT_UNKNOWN) {
                var info = stat()
                guard lstat(root + "/" + path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFDIR: type = UInt8(DT_DIR)
                case S_IFLNK: type = UInt8(DT_LNK)
                case S_IFREG: type = UInt8(DT_REG)
                default: continue
                }
            }
            if type == UInt8(DT_DIR) {
                subdirectories.append(path)
                continue
            }
            if type == UInt8(DT_LNK) {
                var target = stat()
                if stat(root + "/" + path, &target) == 0 && (target.st_mode & S_IFMT) == S_IFDIR {
                    problems.append(EntryDescriptor(source: self.name, key: path, root: root,
                        problem: FileIO.Refusal(.symlink, "symlinked directory '\(path)' is not followed")))
                    continue
                }
            } else if type != UInt8(DT_REG) {
                continue
            }
            let (key, ext) = SampleFiles.split(path)
            if type == UInt8(DT_LNK) { linked.insert(key) }
            groups[key, default: []].append((ext, .file(path)))
        }
        var entries = groups.keys.filter { !SampleFiles.isBookkeeping(key: $0, extensions: groups[$0]!.map(\.ext)) }.map { key in
            var entry = SampleFiles.descriptor(source: name, key: key, root: root,
                                               files: groups[key]!.sorted { $0.ext < $1.ext }, maskLayout: true)
            entry.isConfined = !linked.contains(key)
            return entry
        }
        entries += problems
        entries.sort { $0.key < $1.key }
        subdirectories.sort()
        return (entries, subdirectories)
    }
}
