#!/usr/bin/env python3
"""sweep_unicode_splits.py — the tokenizers' split patterns (run on PCRE2 by bench, on Oniguruma by
Hugging Face `tokenizers`) against every assigned code point: `bench tokenize` and the library
must give the same ids.

Each code point c above U+007F that is assigned (general category not Cn) goes into the context
"a{c}b {c}1{c}{c}'{c} " — after a letter, after a space, before a digit, doubled, after an
apostrophe — so a property that differs between the two engines' Unicode tables (letter, number,
white space, ...) moves a split and so the ids. Private-use and unassigned code points are
sampled (every 97th). 1,000 code points make one text; all texts go through one
`bench tokenize --jsonl` run per tokenizer. On a mismatch the first code point that differs is
named.

usage: sweep_unicode_splits.py --bench PATH [--fixtures DIR] [NAME ...]   (default: every
       fixture whose pre-tokenizer splits with a pattern: gpt2 llama3 qwen2 neox roberta)
Prints one line per tokenizer and a closing "N passed, N failed"; exits 1 on any failure.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unicodedata

from tokenizers import Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PER_TEXT = 1000


def code_points():
    out = []
    for c in range(0x80, 0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        cat = unicodedata.category(chr(c))
        if cat not in ("Cn", "Co") or c % 97 == 0:
            out.append(c)
    return out


def context(c):
    ch = chr(c)
    return "a%sb %s1%s%s'%s " % (ch, ch, ch, ch, ch)


def bench_ids(bench, tokenizer_path, texts):
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
        path = f.name
    try:
        r = subprocess.run([bench, "tokenize", tokenizer_path, path, "--jsonl"],
                           capture_output=True, text=True)
    finally:
        os.unlink(path)
    if r.returncode != 0:
        raise RuntimeError("bench tokenize exited %d: %s" % (r.returncode, r.stderr.strip()))
    return [json.loads(line) for line in r.stdout.splitlines()]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "tests", "fixtures", "tokenizers"))
    ap.add_argument("names", nargs="*", default=["gpt2", "llama3", "qwen2", "neox", "roberta"])
    a = ap.parse_args()
    cps = code_points()
    groups = [cps[i:i + PER_TEXT] for i in range(0, len(cps), PER_TEXT)]
    texts = ["".join(context(c) for c in g) for g in groups]
    passed = failed = 0
    for name in a.names:
        path = os.path.join(a.fixtures, name + ".json")
        tok = Tokenizer.from_file(path)
        ref = [e.ids for e in tok.encode_batch(texts, add_special_tokens=False)]
        ours = bench_ids(a.bench, path, texts)
        bad = [k for k in range(len(texts)) if k >= len(ours) or ours[k] != ref[k]]
        if not bad:
            passed += 1
            print("ok   %-8s %d code points (Unicode %s in this Python)" %
                  (name, len(cps), unicodedata.unidata_version))
            continue
        failed += 1
        first = None
        for c in groups[bad[0]]:
            t = context(c)
            if bench_ids(a.bench, path, [t])[0] != tok.encode(t, add_special_tokens=False).ids:
                first = c
                break
        where = ("U+%04X %s %s" % (first, unicodedata.category(chr(first)),
                                   unicodedata.name(chr(first), "?"))) if first is not None else "?"
        print("FAIL %-8s %d of %d texts differ; first code point: %s" %
              (name, len(bad), len(texts), where))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
