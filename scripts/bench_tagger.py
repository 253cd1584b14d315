#!/usr/bin/env python3
"""Tagging throughput and accuracy: our rule-based tagger (`pos`, release build) against NLTK's
Brill tagger (unigram+bigram start, fntbl37 templates, 300 rules) and averaged-perceptron
tagger, both trained on the same UD English-EWT train file, all scored on EWT dev on this machine
in one run. Usage: python3 scripts/bench_tagger.py [--data ../shared/data/ud-ewt]"""
import argparse, os, re, subprocess, time

def read_conllu(path):
    sents, cur = [], []
    for line in open(path, encoding="utf-8"):
        line = line.rstrip("\n")
        if not line:
            if cur: sents.append(cur); cur = []
            continue
        if line.startswith("#"): continue
        f = line.split("\t")
        if "-" in f[0] or "." in f[0]: continue
        cur.append((f[1], f[3]))
    if cur: sents.append(cur)
    return sents

def score(pred, gold):
    correct = tp = fp = fn = 0
    for p, g in zip(pred, gold):
        correct += p == g
        pn, gn = p in ("NOUN", "PROPN"), g in ("NOUN", "PROPN")
        tp += pn and gn; fp += pn and not gn; fn += gn and not pn
    return correct / len(gold), 2 * tp / (2 * tp + fp + fn)

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../shared/data/ud-ewt"))
    ap.add_argument("--pos", default=".build/release/pos")
    args = ap.parse_args()
    train_path = os.path.join(args.data, "en_ewt-ud-train.conllu")
    dev_path = os.path.join(args.data, "en_ewt-ud-dev.conllu")
    if not os.path.exists(train_path):
        print(f"skipped: {train_path} not found"); return
    import nltk
    from nltk.tag import UnigramTagger, BigramTagger, DefaultTagger
    from nltk.tag.brill import fntbl37
    from nltk.tag.brill_trainer import BrillTaggerTrainer
    from nltk.tag.perceptron import PerceptronTagger
    train, dev = read_conllu(train_path), read_conllu(dev_path)
    gold = [t for s in dev for _, t in s]
    dev_words = [[w for w, _ in s] for s in dev]
    tokens = len(gold)

    rows = []
    scored = subprocess.run([args.pos, "--score", dev_path], capture_output=True, text=True, check=True).stdout
    timed = subprocess.run([args.pos, "--bench", dev_path], capture_output=True, text=True, check=True).stdout
    for lower in (False, True):
        key = "lower-cased" if lower else "cased"
        m = re.search(rf"^{key}: \d+ tokens, UPOS accuracy ([\d.]+), NOUN\+PROPN F1 ([\d.]+)", scored, re.M)
        for threads in (1, 2):
            r = re.search(rf"^{key}, {threads} threads?: .*: (\d+) tokens/s", timed, re.M)
            rows.append((f"ours (rule-based, Swift), {threads} thread{'s' if threads > 1 else ''}", lower,
                         float(m.group(1)), float(m.group(2)), float(r.group(1)), "in-process, tagging only"))

    def nltk_rows(name, tagger, train_s):
        for lower in (False, True):
            sents = [[w.lower() for w in s] for s in dev_words] if lower else dev_words
            # Best of 3 passes (ours: best of three windows of >= 0.7 s per figure).
            dt = float("inf")
            for _ in range(3):
                t0 = time.perf_counter(); tagged = tagger.tag_sents(sents); dt = min(dt, time.perf_counter() - t0)
            acc, f1 = score([t for s in tagged for _, t in s], gold)
            rows.append((name, lower, acc, f1, tokens / dt, f"trained in {train_s:.0f} s"))

    t0 = time.perf_counter()
    base = BigramTagger(train, backoff=UnigramTagger(train, backoff=DefaultTagger("NOUN")))
    brill = BrillTaggerTrainer(base, fntbl37(), trace=0).train(train, max_rules=300)
    nltk_rows("NLTK Brill (fntbl37, 300 rules)", brill, time.perf_counter() - t0)
    t0 = time.perf_counter()
    perceptron = PerceptronTagger(load=False)
    perceptron.train([list(s) for s in train], nr_iter=5)
    nltk_rows("NLTK averaged perceptron (5 iterations)", perceptron, time.perf_counter() - t0)

    print(f"# Tagging: EWT dev, {tokens} tokens; NLTK single-threaded (tag_sents), ours via `pos --bench`\n")
    print("| tagger | input | UPOS accuracy | NOUN+PROPN F1 | tokens/s | note |")
    print("|---|---|---|---|---|---|")
    for name, lower, acc, f1, rate, note in rows:
        print(f"| {name} | {'lower-cased' if lower else 'cased'} | {acc*100:.2f} % | {f1:.4f} | {rate:,.0f} | {note} |")
    print("\n| speed-up of ours | input | 1 thread | 2 threads |")
    print("|---|---|---|---|")
    for name, lower, _, _, rate, _ in rows:
        if name.startswith("ours"): continue
        mine = [r[4] for r in rows if r[0].startswith("ours") and r[1] == lower]
        print(f"| vs {name} | {'lower-cased' if lower else 'cased'} | {mine[0] / rate:.1f}x | {mine[1] / rate:.1f}x |")

if __name__ == "__main__":
    main()
