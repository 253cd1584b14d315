public import BuildConfig
import BuildSupport
public import Text

extension TagConfig {
    /// The CLIP tokenizer these tag settings name (`tag.tokenizer`'s files, else the built-in
    /// OpenAI vocabulary): the tag stage's token positions, embed's and shard's token ids, and
    /// the label matches of segment and `import-masks` all come from it.
    /// - Throws: ``PipelineError`` `.config` naming `tag.tokenizer`.
    public func clipTokenizer() throws -> CLIPTokenizer {
        do {
            return tokenizer.isEmpty ? try CLIPTokenizer() : try CLIPTokenizer(directory: tokenizer)
        } catch {
            throw PipelineError(.config, "cannot load the tokenizer: \(error)", key: "tag.tokenizer")
        }
    }

    /// The tag stage's noun finder (the bundled tagger) over ``clipTokenizer()``.
    public func nounFinder() throws -> NounFinder {
        let tokenizer = try clipTokenizer()
        do {
            return NounFinder(tagger: try .bundled(), tokenizer: tokenizer)
        } catch {
            throw PipelineError(.config, "cannot load the bundled tagger: \(error)", key: "tag")
        }
    }
}
