"""Tables the Text module ships, derived from public specifications (facts, not code):

- Sources/Text/Resources/clip-bpe-merges.txt: the 48,894 BPE merges CLIP uses (lines 2-48895 of
  OpenAI CLIP's bpe_simple_vocab_16e6.txt.gz, MIT licence, Copyright (c) 2021 OpenAI).
- Sources/Text/Resources/html-entities.tsv: the WHATWG HTML5 named character references as
  Python's html.entities.html5 lists them (section "html5"), Python's html.unescape tables for
  invalid numeric references ("invalid_charref", "invalid_codepoint"), and the entity table
  ftfy's unescape_html step uses ("ftfy": the ';'-terminated names plus their all-caps forms).

Run: pip install ftfy && python3 scripts/make_text_tables.py
"""
import html, html.entities, os
from ftfy import chardata

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
