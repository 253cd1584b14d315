"""Reference token ids for the CLIP tokenizer test, from open_clip's SimpleTokenizer.

Run from the repository root:
    pip install ftfy regex numpy && pip download --no-deps open_clip_torch -d /tmp/oc
    (cd /tmp/oc && unzip -o open_clip_torch-*.whl 'open_clip/*')
    python3 Tests/TextTests/Fixtures/make_tokenizer_fixture.py /tmp/oc/open_clip/tokenizer.py

Versions for the committed file: open_clip_torch 3.3.0, ftfy 6.3.1, regex 2026.5.9.
open_clip's module imports torch only for its output tensor, so a stub stands in for it and the
start/end/truncation step (`SimpleTokenizer.__call__`) is repeated here with lists.
The captions are drawn from numpy.random.RandomState(20261126).
"""
import importlib.util, json, os, sys, types
import numpy as np

torch = types.ModuleType("torch")
torch.LongTensor = object
torch.Tensor = object
sys.modules["torch"] = torch

spec = importlib.util.spec_from_file_location("oc_tokenizer", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
tok = module.SimpleTokenizer()
rng = np.random.RandomState(20261126)

objects = ["dog", "cat", "teddy bear", "fire hydrant", "stop sign", "red mug", "backpack", "sneaker", "vase", "clock",
           "sloth plushie", "robot toy", "berry bowl", "candle", "teapot", "duck toy", "rc car", "sunglasses", "boots",
           "apple", "bananas", "pizza", "bicycle", "motorbike", "skateboard", "umbrella", "laptop", "guitar", "horse"]
colors = ["red", "green", "blue", "yellow", "pink", "black", "white", "purple", "orange", "grey", "golden", "turquoise"]
places = ["on a wooden table", "in the snow", "on the beach", "in front of the Eiffel Tower", "in a café in Zürich",
          "on a street in São Paulo", "in Москва", "at 北京 station", "in the jungle", "on top of a purple rug in a forest",
          "with a city in the background", "on a cobblestone street", "in Kraków", "near the Bosphorus (İstanbul)"]
templates = ["a photo of a {c} {o} {p}", "{o} {p}", "A {C} {O} {p}!", "a close up of the {o} {p}...",
             "two {o}s and a {c} {o2} {p}", "the {o}'s owner {p}", "they're playing with a {o} {p}",
             "it'll be a {c} {o}, won't it? {p}", "{O} {p} #travel #photography", "a {o} — {p} — in 4K",
             "“a {c} {o}” {p}", "‘{o}’ {p}", "a {o} &amp; a {o2} {p}", "a {o} &quot;{c}&quot; {p}",
             "a {o} &#39;{c}&#39; {p}", "caf&eacute; with a {o}", "a {o}&nbsp;{p}", "ﬁne {o} with ﬂowers {p}",
             "ＡＢＣ {o} in fullwidth １２３", "a {o}\t{p}\n(second line)", "  a   {o}   {p}  ", "a {o} at 3.14 pm, 1,000 times",
             "the 2nd {o} of 10", "{o} 🐶🍕👩‍👩‍👧 {p}", "a {o} 😀😀😀 {p}", "naïve {o} cafe\u0301 {p}", "ΣΟΦΙΑ ΚΑΙ {O}Σ",
             "a {o} in Ελλάδα and العربية and हिन्दी and ไทย and 한국어", "<b>a {o}</b> {p}", "a {o} <3 {p}",
             "http://example.com/{o}.jpg {p}", "a {o}...!!!???", "a {o}'s, {o2}'s and {c}'s", "A {O} IN ALL CAPS {P}",
             "a {o}\u200b{o2} {p}", "a {o}\u00ad{p}", "a\u2028{o}\u2029{p}", "a {o}\x85{p}", "\x1b[31ma red {o}\x1b[0m",
             "a {o} costs $5.99 (≈ €5)", "a {o} ~ 50% off ^_^ {p}", "a {o}\u0000{p}", "a {o} \ufeff{p}", "l'{o} de Céline",
             "O'Neil's {o} {p}", "a {o} &lt;3 &gt; {o2}", "&AMP; {O} &EACUTE;", "a {o} &#x1F600; {p}", "a {o} &#128; {p}",
             "a {o} &notit; {p}", "a {o} &amp {p}", "Ǆungla with ĳ and ŉ", "a {o}, a {o2}, a {c} {o}, " * 4 + "{p}"]


def caption():
    t = templates[rng.randint(len(templates))]
    o, o2 = objects[rng.randint(len(objects))], objects[rng.randint(len(objects))]
    c, p = colors[rng.randint(len(colors))], places[rng.randint(len(places))]
    text = t.format(o=o, o2=o2, c=c, p=p, O=o.upper(), C=c.capitalize(), P=p.upper())
    r = rng.rand()
    if r < 0.08:
        text = text * rng.randint(2, 6)  # over-long
    elif r < 0.12:
        text = "".join(chr(rng.randint(0x20, 0x2FFF)) for _ in range(rng.randint(1, 40)))  # random unicode
    elif r < 0.15:
        text = " ".join(str(rng.randint(0, 10 ** rng.randint(1, 9))) for _ in range(rng.randint(1, 8)))
    return text


captions = [caption() for _ in range(2400)]
captions += ["", " ", "a", "<start_of_text> hi <end_of_text>", "a\u0301", "x" * 500, "ab " * 200]
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "clip_tokenizer_fixture.jsonl")
with open(out, "w", encoding="utf-8") as f:
    for text in captions:
        tokens = [tok.sot_token_id] + tok.encode(text) + [tok.eot_token_id]
        if len(tokens) > 77:
            tokens = tokens[:77]
            tokens[-1] = tok.eot_token_id
        f.write(json.dumps({"caption": text, "ids": tokens}, ensure_ascii=True) + "\n")
print("wrote", len(captions), "captions to", out)
