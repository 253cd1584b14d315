import BuildConfig
import BuildSupport
import Foundation
@testable import Pipeline
import PipelineTestSupport
import Testing

@Suite struct ConfigTests {
    /// Inputs the fuzz harness found crashing the YAML loader (fuzz/regressions): each must now be
    /// refused with a config error naming the problem, as a pipeline file and as a manifest.
    @Test func fuzzFoundYAMLInputsAreRefusedNotCrashes() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../fuzz/regressions").standardizedFileURL.path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files.count >= 3)
        for name in files {
            for load in [{ _ = try PipelineConfig.load(path: folder + "/" + name) }, { _ = try ManifestConfig.load(path: folder + "/" + name) }] {
                do { try load(); Issue.record("\(name) loaded") } catch let error as PipelineError {
                    #expect(error.code == .config, "\(name): \(error)")
                } catch { Issue.record("\(name): \(error)") }
            }
        }
        do { _ = try ManifestConfig.load(path: folder + "/manifest-mapping-key.yaml") } catch {
            #expect("\(error)".contains("mapping key must be a plain scalar"))
        }
    }

    func write(_ text: String) throws -> (TemporaryDirectory, String) {
        let dir = TemporaryDirectory("config")
        try dir.write("name: m\nsources:\n  - {format: folder, path: data}\n", to: "manifests/m.yaml")
        return (dir, try dir.write(text, to: "pipelines/p.yaml"))
    }

    @Test func loadsResolvesPathsAndDefaults() throws {
        let (dir, path) = try write("name: p\nmanifest: ../manifests/m.yaml\n")
        let config = try PipelineConfig.load(path: path)
        #expect(config.buildDir == dir.appending("builds/p"))
        #expect(config.manifest == dir.appending("manifests/m.yaml"))
        #expect(config.unitSize == 1000)
        #expect(config.ingest == IngestConfig())
        let manifest = try ManifestConfig.load(path: config.manifest)
        #expect(manifest.sources[0].path == dir.appending("manifests/data"))
        #expect(manifest.sources[0].name == "data")
    }

    @Test func unknownKeysAreErrorsThatNameTheKey() throws {
        let (dir, path) = try write("name: p\nmanifest: ../manifests/m.yaml\ningest:\n  max_pixel: 5\n")
        do {
            _ = try PipelineConfig.load(path: path)
            Issue.record("expected an error")
        } catch let error as PipelineError {
            #expect(error.key == "ingest")
            #expect(error.file == path)
            #expect(error.description == "\(path): ingest: unknown key 'max_pixel' (did you mean 'max_pixels'?)")
        }
        let (dir2, top) = try write("name: p\nmanifest: ../manifests/m.yaml\nunit_sise: 3\n")
        #expect { try PipelineConfig.load(path: top) } throws: {
            ($0 as? PipelineError)?.key == nil && "\($0)".hasSuffix("p.yaml: unknown key 'unit_sise' (did you mean 'unit_size'?)")
        }
        // Nothing close: the keys known there.
        let (dir3, far) = try write("name: p\nmanifest: ../manifests/m.yaml\ncrop: {qqq: 1}\n")
        #expect { try PipelineConfig.load(path: far) } throws: {
            "\($0)".contains("crop: unknown key 'qqq' (known here: canny, canny_high, canny_low, max_box_area,")
        }
        withExtendedLifetime((dir, dir2, dir3)) {}
    }

    @Test func overridesApplyAndAreCheckedToo() throws {
        let (dir, path) = try write("name: p\nmanifest: ../manifests/m.yaml\n")
        let config = try PipelineConfig.load(path: path, overrides: ["unit_size=7", "ingest.verify=decode", "ingest.max_masks=3"])
        #expect(config.unitSize == 7 && config.ingest.verify == "decode" && config.ingest.maxMasks == 3)
        #expect { try PipelineConfig.load(path: path, overrides: ["ingest.nope=1"]) } throws: {
            ($0 as? PipelineError)?.key == "ingest" && "\($0)".contains("unknown key 'nope'")
        }
        #expect { try PipelineConfig.load(path: path, overrides: ["crop.min_image_side=abc"]) } throws: {
            "\($0)".hasSuffix("p.yaml: crop.min_image_side: expected an integer, got 'abc'")
        }
        #expect { try PipelineConfig.load(path: path, overrides: ["crop.canny=maybe"]) } throws: {
            "\($0)".hasSuffix("crop.canny: expected true or false, got 'maybe'")
        }
        #expect { try PipelineConfig.load(path: path, overrides: ["crop.min_fill=[1, 2]"]) } throws: {
            "\($0)".hasSuffix("crop.min_fill: expected a single value, got a list")
        }
        #expect { try PipelineConfig.load(path: path, overrides: ["ingest.verify=maybe"]) } throws: {
            ($0 as? PipelineError)?.key == "ingest.verify"
        }
        #expect { try PipelineConfig.load(path: path, overrides: ["unit_size=0"]) } throws: {
            ($0 as? PipelineError)?.key == "unit_size"
        }
        #expect { try PipelineConfig.load(path: path, overrides: ["novalue"]) } throws: { $0 is PipelineError }
        withExtendedLifetime(dir) {}
    }

    @Test func missingAndMistypedValuesAreReported() throws {
        let (dir, path) = try write("name: p\n")
        #expect { try PipelineConfig.load(path: path) } throws: { ($0 as? PipelineError)?.key == "manifest" }
        let (dir2, typed) = try write("name: p\nmanifest: x\nunit_size: many\n")
        #expect { try PipelineConfig.load(path: typed) } throws: {
            ($0 as? PipelineError)?.key == "unit_size" && "\($0)".hasSuffix("unit_size: expected an integer, got 'many'")
        }
        #expect { try PipelineConfig.load(path: dir.appending("nowhere.yaml")) } throws: { "\($0)".hasSuffix("nowhere.yaml: no such file") }
        let (dir3, broken) = try write("name: [p\n")
        #expect { try PipelineConfig.load(path: broken) } throws: { ($0 as? PipelineError)?.code == .config }
        withExtendedLifetime((dir, dir2, dir3)) {}
    }

    @Test func manifestRejectsUnknownFormatsKeysAndDuplicateNames() throws {
        let dir = TemporaryDirectory("manifest")
        let bad = try dir.write("name: m\nsources:\n  - {format: parquet, path: x}\n", to: "a.yaml")
        #expect { try ManifestConfig.load(path: bad) } throws: { ($0 as? PipelineError)?.description.contains("parquet") == true }
        let key = try dir.write("name: m\nsources:\n  - {format: folder, path: x, colour: red}\n", to: "b.yaml")
        #expect { try ManifestConfig.load(path: key) } throws: { ($0 as? PipelineError)?.key == "sources[0]" && "\($0)".contains("'colour'") }
        // Say where, as the file is written, and what was probably meant.
        let typo = try dir.write("name: m\nsources:\n  - {format: folder, path: x}\n  - {fromat: folder, path: y}\n", to: "d.yaml")
        #expect { try ManifestConfig.load(path: typo) } throws: {
            "\($0)".hasSuffix("d.yaml: sources[1]: unknown key 'fromat' (did you mean 'format'?)")
        }
        let twice = try dir.write("name: m\nsources:\n  - {format: folder, path: x}\n  - {format: folder, path: y/x}\n", to: "c.yaml")
        #expect { try ManifestConfig.load(path: twice) } throws: { ($0 as? PipelineError)?.description.contains("'x'") == true }
    }

    @Test func slurmDefaults() {
        #expect(RunOptions.slurmDefaults(environment: [:]) == (1, 0))
        let d = RunOptions.slurmDefaults(environment: ["SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_ID": "3"])
        #expect(d == (4, 3))
        let offset = RunOptions.slurmDefaults(environment: ["SLURM_ARRAY_TASK_COUNT": "4", "SLURM_ARRAY_TASK_ID": "5",
                                                            "SLURM_ARRAY_TASK_MIN": "2"])
        #expect(offset == (4, 3))
    }
}
