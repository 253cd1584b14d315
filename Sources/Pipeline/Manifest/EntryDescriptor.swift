import BuildSupport
/// Where an input file's bytes are: a file under the source root, or a member of a tar.
public enum FileRef: Sendable, Equatable {
    /// A path relative to the source root.
    case file(String)
    /// A tar member: the tar's path relative to the source root, the member name, and where its
    /// data lies in the tar.
    case tarMember(tar: String, member: String, offset: Int, size: Int)

    /// The JSON recorded in the catalog.
    public var json: String {
        switch self {
        case .file(let path): return JSONText.object(["path": .string(path)])
        case .tarMember(let tar, let member, let offset, let size):
            return JSONText.object(["tar": .string(tar), "member": .string(member), "offset": .int(offset), "size": .int(size)])
        }
    }
}

/// A caption: inline text, a file to read, or none.
public enum CaptionSource: Sendable, Equatable {
    case text(String)
    case file(FileRef)
    case none
}

/// A mask given by the manifest before it is read.
public enum MaskSource: Sendable, Equatable {
    /// An instance-map PNG (pixel value = instance index); masks listed in the entry's JSON.
    case instanceMap(FileRef)
    /// One binary PNG per subject.
    case binary(FileRef, label: String?, box: [Double]?)
    /// A COCO annotation: `kind` is `coco_rle` or `coco_polygon`; `data` the segmentation JSON.
    case coco(kind: String, label: String, box: [Double], data: String)
}

/// One manifest entry as a source reader finds it: cheap to make (no image bytes read), so every
/// worker can scan the whole manifest and keep only its units.
public struct EntryDescriptor: Sendable, Equatable {
    /// The manifest source's name.
    public var source: String
    /// The sample's key within the source.
    public var key: String
    /// The source's root folder (absolute).
    public var root: String
    /// The image file, or nil when the entry has none.
    public var image: FileRef?
    /// The caption.
    public var caption: CaptionSource = .none
    /// Per-sample JSON (img2dataset metadata or Subject-Diffusion masks).
    public var json: FileRef?
    /// Masks.
    public var masks: [MaskSource] = []
    /// A problem found while scanning (bad path, link member, bad record): recorded as failed.
    public var problem: FileIO.Refusal?
    /// The file paths were found by walking the root without following links, so they need no
    /// confinement check when read.
    public var isConfined = false

    public init(source: String, key: String, root: String, image: FileRef? = nil, caption: CaptionSource = .none,
                json: FileRef? = nil, masks: [MaskSource] = [], problem: FileIO.Refusal? = nil) {
        self.source = source
        self.key = key
        self.root = root
        self.image = image
        self.caption = caption
        self.json = json
        self.masks = masks
        self.problem = problem
    }
}
