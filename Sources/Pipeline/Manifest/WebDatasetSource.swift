import Foundation

/// Entries of WebDataset tars (img2dataset or Subject-Diffusion layout): consecutive members
/// that share a key form one entry. Tars are read in sorted name order; `path` is a tar file or
/// a folder of them.
struct WebDatasetSource {
    let name: String
    let path: String
    let layout: String

    /// The tar files, sorted, relative to the source root, and the root.
    func tars() -> (root: String, files: [String]) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            return (path, names.filter { $0.hasSuffix(".tar") && !$0.hasPrefix(".") }.sorted())
        }
        return ((path as NSString).deletingLastPathComponent, [(path as NSString).lastPathComponent])
    }

    func entries() -> AnyIterator<EntryDescriptor> {
        let (root, files) = tars()
        var tarIndex = 0
        var reader: TarReader?
        var group: (key: String, files: [(ext: String, ref: FileRef)])?
        var bad: EntryDescriptor?
        var finished = false
        let maskLayout = layout != "img2dataset"

        func flush() -> EntryDescriptor? {
            defer { group = nil }
            guard let group else { return nil }
            return SampleFiles.descriptor(source: name, key: group.key, root: root, files: group.files, maskLayout: maskLayout)
        }

        return AnyIterator {
            while true {
                if let b = bad { bad = nil; return b }
                if finished { return nil }
                if reader == nil {
                    guard tarIndex < files.count else { finished = true; return flush() }
                    do { reader = try TarReader(path: root + "/" + files[tarIndex]) } catch {
                        let tar = files[tarIndex]
                        tarIndex += 1
                        return EntryDescriptor(source: name, key: tar, root: root,
                                               problem: FileIO.Refusal(.unreadable, "cannot open tar: \(error)"))
                    }
                }
                let tar = files[tarIndex]
                guard let member = reader!.next() else {
                    if let error = reader!.error {
                        bad = EntryDescriptor(source: name, key: tar + "#corrupt", root: root,
                                              problem: FileIO.Refusal(.corruptArchive, error.message))
                    }
                    reader!.close()
                    reader = nil
                    tarIndex += 1
                    if let done = flush() { return done }
                    continue
                }
                if member.type == UInt8(ascii: "5") { continue }
                let (key, ext) = SampleFiles.split(member.name)
                if let problem = Self.check(member) {
                    let done = flush()
                    bad = EntryDescriptor(source: name, key: key, root: root, problem: problem)
                    if let done { return done }
                    continue
                }
                guard member.isFile else { continue }
                let ref = FileRef.tarMember(tar: tar, member: member.name, offset: member.offset, size: member.size)
                if group?.key == key {
                    group!.files.append((ext, ref))
                } else {
                    let done = flush()
                    group = (key, [(ext, ref)])
                    if let done { return done }
                }
            }
        }
    }

    /// A member that must not be trusted: links, absolute names, names that climb out.
    static func check(_ member: TarReader.Member) -> FileIO.Refusal? {
        if member.isLink {
            return FileIO.Refusal(.symlink, "tar member '\(member.name)' is a link to '\(member.linkName)'")
        }
        if member.name.hasPrefix("/") {
            return FileIO.Refusal(.pathEscape, "tar member '\(member.name)' has an absolute path")
        }
        if member.name.split(separator: "/").contains("..") {
            return FileIO.Refusal(.pathEscape, "tar member '\(member.name)' climbs out with '..'")
        }
        return nil
    }
}
