"""Tables the Text module ships, derived from public specifications (facts, not code):

- Sources/Text/Resources/clip-bpe-merges.txt: the 48,894 BPE merges CLIP uses (lines 2-48895 of
  OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz, MIT licence, Copyright (c) 2021 OpenAI).
- Sources/Text/Resources/html-entities.tsv: the WHATWG HTML5 named character references as
  Python's html.entities.html5 lists them (section "html5"), Python's html.unescape tables for
  invalid numeric references ("invalid_charref", "invalid_codepoint"), and the entity table
  ftfy's unescape_html step uses ("ftfy": the ';'-terminated names plus their all-caps forms).
- Sources/Text/Resources/mojibake-tables.tsv: what ftfy 6.3's mojibake repair (fix_encoding)
  reads: the byte-to-character tables of the single-byte encodings it tries, in its order
  ("charmap": latin-1, the "sloppy" Windows code pages that pass unassigned bytes through as
  Latin-1 and read byte 1A as U+FFFD, iso-8859-2, macroman, cp437), the character categories of
  its badness heuristic ("category", ranges expanded), and the character sets of its UTF-8
  detector ("clue"). The patterns over these categories are written in TextCleaner+Mojibake.swift.

Run: .venv/bin/pip install ftfy==6.3.1 && .venv/bin/python scripts/make_text_tables.py
"""
import html, html.entities, os, re
import ftfy.bad_codecs  # registers the sloppy codecs
from ftfy import badness, chardata

OUT = os.path.join(os.path.dirname(__file__), "..", "Sources", "Text", "Resources", "html-entities.tsv")


def esc(s):
    return "".join(f"\\u{{{ord(c):x}}}" for c in s)


with open(OUT, "w", encoding="utf-8") as f:
    for name, chars in sorted(html.entities.html5.items()):
        f.write(f"html5\t{name}\t{esc(chars)}\n")
    for num, chars in sorted(html._invalid_charrefs.items()):
        f.write(f"invalid_charref\t{num}\t{esc(chars)}\n")
    for num in sorted(html._invalid_codepoints):
        f.write(f"invalid_codepoint\t{num}\t\n")
    for entity, chars in sorted(chardata.HTML_ENTITIES.items()):
        f.write(f"ftfy\t{entity}\t{esc(chars)}\n")
print("wrote", OUT)


def members(char_class):
    """The characters of a regex character class body (ranges expanded), scanning the BMP."""
    pattern = re.compile("[" + char_class + "]")
    return [c for c in map(chr, range(0x10000)) if pattern.match(c)]


MOJIBAKE = os.path.join(os.path.dirname(__file__), "..", "Sources", "Text", "Resources", "mojibake-tables.tsv")
with open(MOJIBAKE, "w", encoding="utf-8") as f:
    for encoding in chardata.CHARMAP_ENCODINGS:
        table = bytes(range(256)).decode(encoding)
        assert len(set(table)) == 256, encoding
        f.write(f"charmap\t{encoding}\t{' '.join(f'{ord(c):x}' for c in table)}\n")
    for name, body in badness.MOJIBAKE_CATEGORIES.items():
        f.write(f"category\t{name}\t{' '.join(f'{ord(c):x}' for c in members(body))}\n")
    for name, body in chardata.UTF8_CLUES.items():
        f.write(f"clue\t{name}\t{' '.join(f'{ord(c):x}' for c in members(body))}\n")
print("wrote", MOJIBAKE)
