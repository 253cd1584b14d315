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
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: full) else { return ([], []) }
        var groups: [String: [(ext: String, ref: FileRef)]] = [:]
        var subdirectories: [String] = []
        var problems: [EntryDescriptor] = []
        for name in names.sorted() where !name.hasPrefix(".") {
            let path = relative.isEmpty ? name : relative + "/" + name
            var info = stat()
            guard lstat(root + "/" + path, &info) == 0 else { continue }
            let type = info.st_mode & S_IFMT
            if type == S_IFDIR {
                subdirectories.append(path)
                continue
            }
            if type == S_IFLNK {
                var target = stat()
                if stat(root + "/" + path, &target) == 0 && (target.st_mode & S_IFMT) == S_IFDIR {
                    problems.append(EntryDescriptor(source: self.name, key: path, root: root,
                        problem: FileIO.Refusal("symlink", "symlinked directory '\(path)' is not followed")))
                    continue
                }
            } else if type != S_IFREG {
                continue
            }
            let (key, ext) = SampleFiles.split(path)
            groups[key, default: []].append((ext, .file(path)))
        }
        var entries = groups.keys.map { key in
            SampleFiles.descriptor(source: name, key: key, root: root, files: groups[key]!, maskLayout: true)
        }
        entries += problems
        entries.sort { $0.key < $1.key }
        return (entries, subdirectories)
    }
}
