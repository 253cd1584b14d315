public import BuildConfig
import BuildSupport
import Foundation

/// Reads every source of a manifest, in order, as a stream of ``EntryDescriptor``s.
public struct ManifestReader: Sendable {
    /// The manifest.
    public let manifest: ManifestConfig
    /// The ingest settings (COCO caption mode).
    public let ingest: IngestConfig

    public init(manifest: ManifestConfig, ingest: IngestConfig) {
        self.manifest = manifest
        self.ingest = ingest
    }

    /// Checks that every source exists before any work starts.
    /// - Throws: ``PipelineError`` `.manifest` naming the missing path.
    public func validate() throws {
        for source in manifest.sources {
            guard FileManager.default.fileExists(atPath: source.path) else {
                throw PipelineError(.manifest, "source '\(source.name ?? source.path)' does not exist", file: source.path)
            }
        }
    }

    /// The source root (what relative refs are resolved against) for each source name.
    public func roots() -> [(name: String, format: String, root: String, options: String)] {
        manifest.sources.map { s in
            let root: String
            switch s.format {
            case .folder, .coco: root = s.path
            case .jsonl, .csv, .tsv: root = (s.path as NSString).deletingLastPathComponent
            case .webdataset: root = WebDatasetSource(name: s.name ?? "", path: s.path, layout: s.layout).tars().root
            }
            return (s.name ?? s.path, s.format.rawValue, root, ConfigLoader.canonicalJSON(s))
        }
    }

    /// All entries of all sources, lazily.
    /// - Throws: ``PipelineError`` when a source's index files (COCO JSON) cannot be read.
    public func entries() throws -> AnyIterator<EntryDescriptor> {
        var iterators: [AnyIterator<EntryDescriptor>] = []
        for source in manifest.sources {
            let name = source.name ?? source.path
            switch source.format {
            case .folder: iterators.append(FolderSource(name: name, root: source.path).entries())
            case .webdataset: iterators.append(WebDatasetSource(name: name, path: source.path, layout: source.layout).entries())
            case .jsonl, .csv, .tsv: iterators.append(ListSource(name: name, config: source).entries())
            case .coco: iterators.append(try COCOSource(name: name, config: source, captionsPerImage: ingest.cocoCaptions).entries())
            }
        }
        var index = 0
        return AnyIterator {
            while index < iterators.count {
                if let next = iterators[index].next() { return next }
                index += 1
            }
            return nil
        }
    }
}
