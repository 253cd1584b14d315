import Foundation
import Imaging

/// A small DreamBench-layout set drawn from the sample scenes, for the demo and tests: a
/// `prompts_and_classes.txt` in google/dreambooth's format with 3 subjects (two objects, one live),
/// 2 real JPEGs per subject, and "generated" PNGs per prompt (the subject's own scene cropped,
/// and another subject's scene).
public enum DreamBenchSample {
    public static let promptFile = """
        Classes

        subject_name,class
        red_thing,toy
        dog_one,dog
        blue_thing,vase

        Prompts

        Object Prompts

        prompt_list = [
        'a {0} {1} in the jungle'.format(unique_token, class_token),
        'a {0} {1} on the beach'.format(unique_token, class_token),
        'a red {0} {1}'.format(unique_token, class_token)
        ]

        Live Subject Prompts

        prompt_list = [
        'a {0} {1} in the snow'.format(unique_token, class_token),
        'a {0} {1} wearing a red hat'.format(unique_token, class_token)
        ]

        """

    /// Writes `<output>/dreambench` and `<output>/generated`.
    public static func write(to output: String, seed: UInt64 = 4) throws {
        let root = output + "/dreambench", generated = output + "/generated"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try promptFile.write(toFile: root + "/prompts_and_classes.txt", atomically: true, encoding: .utf8)
        let scenes = SceneGenerator(seed: seed)
        for (s, name) in ["red_thing", "dog_one", "blue_thing"].enumerated() {
            try FileManager.default.createDirectory(atPath: root + "/" + name, withIntermediateDirectories: true)
            for k in 0..<2 {
                try Data(try ImageCodec.encodeJPEG(scenes.scene(s * 10 + k).image, quality: 92))
                    .write(to: URL(fileURLWithPath: "\(root)/\(name)/0\(k).jpg"))
            }
            for prompt in 0..<2 {
                let folder = "\(generated)/\(name)/\(prompt)"
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let own = scenes.scene(s * 10 + prompt).image
                let cropped = own.cropped(x: 10, y: 12, width: own.width - 30, height: own.height - 20)
                try Data(try ImageCodec.encodePNG(cropped)).write(to: URL(fileURLWithPath: "\(folder)/0.png"))
                try Data(try ImageCodec.encodePNG(scenes.scene(((s + 1) % 3) * 10 + 5).image)).write(to: URL(fileURLWithPath: "\(folder)/1.png"))
            }
        }
    }
}
