import Foundation

/// Writes a manifest over a generated sample and a pipeline config for a build in a temp folder.
public enum SampleBuild {
    /// All sources of the embedded sample layout rooted at `sample`.
    public static func manifest(sample: String) -> String {
        """
        name: sample
        sources:
          - {name: folder, format: folder, path: \(sample)/folder}
          - {name: wds-img2dataset, format: webdataset, path: \(sample)/wds-img2dataset, layout: img2dataset}
          - {name: wds-subject-diffusion, format: webdataset, path: \(sample)/wds-subject-diffusion, layout: subject-diffusion}
          - {name: jsonl, format: jsonl, path: \(sample)/lists/sample.jsonl}
          - {name: csv, format: csv, path: \(sample)/lists/sample.csv}
          - {name: tsv, format: tsv, path: \(sample)/lists/sample.tsv}
          - {name: coco, format: coco, path: \(sample)/coco}

        """
    }

    /// A pipeline config file for a build under `directory`; returns its path.
    @discardableResult
    public static func pipeline(in directory: TemporaryDirectory, sample: String, unitSize: Int, extra: String = "") throws -> String {
        try directory.write(manifest(sample: sample), to: "manifest.yaml")
        return try directory.write("""
            name: test
            build_dir: build
            manifest: manifest.yaml
            unit_size: \(unitSize)
            \(extra)
            """, to: "pipeline.yaml")
    }

    /// Copies the build under `directory` to `directory/<name>` and writes `<name>.yaml`, the
    /// pipeline file `pipeline` pointing at the copy (a reference build to compare against).
    /// - Returns: the copy's pipeline file.
    public static func copy(_ directory: TemporaryDirectory, pipeline: String, to name: String) throws -> String {
        try FileManager.default.copyItem(atPath: directory.appending("build"), toPath: directory.appending(name))
        let path = directory.appending(name + ".yaml")
        try String(contentsOfFile: pipeline, encoding: .utf8).replacingOccurrences(of: "build_dir: build", with: "build_dir: \(name)")
            .write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}
