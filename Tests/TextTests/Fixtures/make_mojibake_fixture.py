"""Reference output of ftfy's fix_text (the cleaning open_clip's tokenizer runs) on mojibake.

Run from the repository root (the project's venv has ftfy; make venv makes it):
    .venv/bin/python Tests/TextTests/Fixtures/make_mojibake_fixture.py [OUT.jsonl] [--lines FILE]

Without --lines it writes Tests/TextTests/Fixtures/mojibake_fixture.jsonl: captions drawn from
numpy-free random.Random(20261203) over multilingual words, each made into mojibake the ways
text gets broken on the web: UTF-8 bytes read as Latin-1, Windows-1252 (sloppy and with unassigned
bytes lost to U+FFFD), -1250, -1251, -1253, -1254, -1257, ISO-8859-2, MacRoman or CP437; twice
over; with byte A0 turned into a space; embedded in clean text; and the clean captions themselves
(which must come back unchanged). With --lines FILE, the non-empty lines of FILE (real text) are
broken the same ways instead. Each output line: {"text": input, "fixed": ftfy.fix_text(input)}.
Versions for the committed file: ftfy 6.3.1, Python 3.11.
"""
import json, random, sys
import ftfy
import ftfy.bad_codecs  # noqa: F401  (registers sloppy-windows-*)

ENCODINGS = ["latin-1", "sloppy-windows-1252", "windows-1252", "sloppy-windows-1250", "sloppy-windows-1251",
             "sloppy-windows-1253", "sloppy-windows-1254", "sloppy-windows-1257", "iso-8859-2", "mac-roman", "cp437"]
WORDS = ["café", "résumé", "naïve", "über", "Zürich", "São Paulo", "piñata", "Kraków", "Łódź", "İstanbul", "señor",
         "crème brûlée", "smörgåsbord", "façade", "jalapeño", "Ærø", "Øresund", "déjà vu", "Ελλάδα", "Москва", "ß",
         "it’s", "don’t", "“quoted”", "‘single’", "—", "–", "…", "€5", "£3", "¥100", "©2024", "®", "™", "°C", "½ cup",
         "×2", "±3", "µm", "¿qué?", "¡hola!", "«guillemets»", "•", "†", "🐶", "🍕", "😀", "北京", "東京", "한국",
         "naïveté", "Ça va", "Dvořák", "Škoda", "Gdańsk", "Hà Nội", "Ελληνικά", "Україна", "Беларусь", "Türkiye",
         "ğüşöç", "ąęłńśźż", "ÀÉÎÕÜ", "à la carte", "voilà", "à", "â€", "NBSP\u00a0here", "x\u00a0y"]
PLAIN = ["a photo of", "a red mug", "the dog", "next to", "on the table", "in", "with", "and", "a", "green ball",
         "near the window", "at night", "two cats", "my", "favourite", "shop", "menu", "price", "street", "sign"]


def caption(rng):
    parts = [rng.choice(PLAIN) for _ in range(rng.randint(1, 4))]
    for _ in range(rng.randint(1, 3)):
        parts.insert(rng.randint(0, len(parts)), rng.choice(WORDS))
    return " ".join(parts)


def broken(text, rng):
    """The ways one text gets broken; yields (kind, string)."""
    data = text.encode("utf-8")
    for enc in ENCODINGS:
        errors = "replace" if enc == "windows-1252" else "strict"
        try:
            once = data.decode(enc, errors=errors)
        except UnicodeDecodeError:
            continue
        yield once
        yield once.replace("\u00a0", " ")
        try:
            yield once.encode("utf-8").decode(rng.choice(["latin-1", "sloppy-windows-1252"]))
        except UnicodeDecodeError:
            pass
        cut = rng.randint(0, len(text))
        yield text[:cut] + " " + once + " " + rng.choice(WORDS)


def main():
    args = sys.argv[1:]
    out = args[0] if args and not args[0].startswith("--") else "Tests/TextTests/Fixtures/mojibake_fixture.jsonl"
    rng = random.Random(20261203)
    if "--lines" in args:
        with open(args[args.index("--lines") + 1], encoding="utf-8") as f:
            sources = [line.strip() for line in f if line.strip()]
    else:
        sources = [caption(rng) for _ in range(70)]
    seen, rows = set(), []
    for text in sources:
        for s in [text] + list(broken(text, rng)):
            if s not in seen:
                seen.add(s)
                rows.append({"text": s, "fixed": ftfy.fix_text(s)})
    with open(out, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    changed = sum(r["text"] != r["fixed"] for r in rows)
    print(f"wrote {out}: {len(rows)} strings, {changed} changed by ftfy")


main()
