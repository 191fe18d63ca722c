#!/usr/bin/env python3
"""compare_tokenizers.py — `bench tokenize` against Hugging Face `tokenizers`, id for id, on every
fixture in tests/fixtures/tokenizers/ and a list of edge cases (whitespace runs, contractions,
digits, emoji and ZWJ sequences, CJK, combining marks in NFC and NFD, special-token text inside
user text, 100k repeated characters, empty text, multilingual paragraphs, random strings,
invalid UTF-8).

usage: compare_tokenizers.py --bench PATH [--fixtures DIR] [--only NAME] [--quick]

Every valid text goes through one `bench tokenize --jsonl` run per fixture (and one with --bos),
which encodes each line's text on its own, to keep the number of processes small; texts that
are not valid UTF-8, and those listed in PLAIN, also go to bench as files, one text per run.
Invalid UTF-8 goes to bench as raw bytes and to the library as bytes.decode("utf-8",
"replace"), the behaviour bench documents (each maximal ill-formed subpart becomes U+FFFD).
Prints one line per failure and a closing "N passed, N failed"; exits 1 on any failure.
"""
import argparse
import glob
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

# Cases also run through the plain one-text-per-file path (besides every invalid UTF-8 case).
PLAIN = {"empty", "s tag inside", "whole corpus", "100k a"}

from tokenizers import Tokenizer

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
CORPUS = os.path.join(ROOT, "tests", "fixtures", "tokenizer_corpus.txt")


def text_cases(quick):
    """(name, text as str or bytes, also with add_special)."""
    c = []

    def add(name, text, bos=False):
        c.append((name, text, bos))

    add("empty", "", True)
    add("one space", " ", True)
    for name, t in [("two spaces", "  "), ("newline", "\n"), ("tab", "\t"), ("crlf", "\r\n"),
                    ("spaces between", "a  b"), ("spaces runs", "a   b    c     d"),
                    ("leading spaces", "   leading"), ("trailing spaces", "trailing   "),
                    ("tabs", "\t\t\tx\ty\t"), ("newlines", "x\n\n\ny\n"),
                    ("mixed ws", "  \t \n\r\n  x  \t\n"), ("ws only", " \n \n "),
                    ("crlf paragraphs", "word\r\n\r\nword\r\n"), ("trailing mixed", "end   \n   "),
                    ("space before newline", "a \nb  \n  c"), ("vertical tab ff", "a\x0bb\x0cc"),
                    ("unicode spaces", "a\u00a0b\u2003c\u3000d\u202fe\u205ff\u1680g"),
                    ("nel ls ps", "a\x85b\u2028c\u2029d"), ("mongolian vs", "a\u180eb \u180e!"),
                    ("zwsp bom", "a\u200bb\ufeffc"), ("long space run", "a" + " " * 40 + "b"),
                    ("space runs 2..30", "".join("x" + " " * n for n in range(2, 31)))]:
        add(name, t)
    for name, t in [("contractions", "it's they'll we're I've you'd he's she'd"),
                    ("contractions upper", "IT'S THEY'LL WE'RE I'VE YOU'D HE'S 'S 'LL 'RE"),
                    ("contractions mixed", "Don'T dON't We'Re 'Ll 'rE"),
                    ("bare apostrophes", "'s's'S 's 'x '' ' 'm 'd 't"),
                    ("long s kelvin", "'\u017f '\u212a it'\u017f"),
                    ("quotes", "\"Hello,\" she said. 'Fine,' he replied.")]:
        add(name, t)
    for name, t in [("digit 1", "1"), ("digits 12", "12"), ("digits 123", "123"),
                    ("digits 1234", "1234"), ("digits 1234567", "1234567"),
                    ("digits 20", "12345678901234567890"), ("decimal", "3.14159 2.5e-10"),
                    ("grouped", "1,234,567.89"), ("letters digits", "a1b22c333d4444"),
                    ("space digits", " 1 22 333 4444 55555"), ("arabic indic", "٣٤٥ ۱۲۳"),
                    ("devanagari digits", "१२३४"), ("other numbers", "①②③ ½ Ⅻ ²³")]:
        add(name, t)
    for name, t in [("emoji", "😀"), ("family zwj", "👨‍👩‍👧‍👦"), ("rainbow flag", "🏳️‍🌈"),
                    ("skin tone", "👍🏿👍🏻"), ("flags", "🇯🇵🇫🇷🇧🇷"), ("heart vs16", "I ❤️ NY"),
                    ("astronaut", "🧑🏽‍🚀 to the moon 🚀🚀🚀"), ("emoji words", "great👍job🎉!!")]:
        add(name, t)
    for name, t in [("chinese", "你好，世界！今天天气很好。"), ("japanese", "日本語のテキストです。"),
                    ("korean", "한국어 문장입니다."), ("cjk mixed", "中文English混合123テスト"),
                    ("arabic", "مرحبا بالعالم"), ("hindi", "नमस्ते दुनिया"),
                    ("russian", "Привет, мир!"), ("greek", "Γειά σου Κόσμε")]:
        add(name, t)
    for name, t in [("e acute nfc", "caf\u00e9"), ("e acute nfd", "cafe\u0301"),
                    ("angstrom nfd", "A\u030angstro\u0308m"), ("angstrom sign", "\u212b"),
                    ("mark order", "q\u0307\u0323 q\u0323\u0307 a\u0308\u0301"),
                    ("hangul jamo", "\u1112\u1161\u11ab\u1100\u1173\u11af"),
                    ("hangul nfd", unicodedata.normalize("NFD", "한국어")),
                    ("exclusion", "\u0958\u0959 \u2126 \u0344"),
                    ("vietnamese nfd", unicodedata.normalize("NFD", "Tiếng Việt")),
                    ("devanagari nukta", "\u0915\u093c \u0929"),
                    ("lone combining", "\u0301\u0301abc"), ("many marks", "a" + "\u0300\u0316" * 30),
                    ("telugu nukta", "\u0c15\u0c3c\u0c4d"), ("dives akuru", "\U00011935\U00011930")]:
        add(name, t)
    for name, t in [("special alone", "<|endoftext|>"), ("special inside", "Hello<|endoftext|>world"),
                    ("special spaced", "Hello <|endoftext|> world"),
                    ("begin of text", "<|begin_of_text|>hi there<|eot_id|>"),
                    ("llama header", "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"),
                    ("s tags", "<s>hello</s>"), ("s tag inside", "a<s>b </s> c"),
                    ("s spaced", " <s> x </s> "), ("im start", "<|im_start|>user\nhi<|im_end|>\n"),
                    ("tool call", "<tool_call>{\"a\": 1}</tool_call>"),
                    ("mask", "<mask>"), ("mask spaced", "hello   <mask> world"),
                    ("mask glued", "hello<mask>world"), ("word token", "[WORD]"),
                    ("word token glued", "a[WORD]b x [WORD] y [WORD]é [WORD]"),
                    ("sep rstrip", "<sep>   next <sep>\n\tend"),
                    ("partial special", "<|endof <|endoftext <s <|im_"),
                    ("nested special", "<<|endoftext|>> <<s>>"),
                    ("repeated special", "<|endoftext|><|endoftext|><s><s>"),
                    ("byte token text", "<0x41> <0x0A>"), ("unk text", "<unk> x <unk>")]:
        add(name, t, True)
    for name, t in [("nul", "a\x00b\x00"), ("max code point", "\U0010ffff"),
                    ("private use", "\ue000\U000f0000"), ("tag char", "\U000e0001x"),
                    ("replacement char", "\ufffd"), ("control chars", "\x01\x02\x1b[0m\x7f"),
                    ("code", "for (i = 0; i < n; i++) { sum += a[i] * b[i]; }\n"),
                    ("url", "https://example.org/a?b=c&d=e#f"),
                    ("punct runs", "!!! ??? ... --- *** ### @@@ $$$ %%%"),
                    ("underscore", "snake_case_name __init__ _x_"),
                    ("metaspace char", "\u2581 \u2581\u2581x \u2581y"),
                    ("byte level chars", "ĠĊ Ġhello Ã©"),
                    ("whole vocab words", "Hello World HELLO Antidisestablishmentarianism "
                     "UnreachableWord supercalifragilistic нет"),
                    ("split behaviours", "a, b; c. d!? e--f -- 12345 x\n\ny\n 3 dollars, 42."),
                    ("sep token", "one [SEP] two[SEP]three [CLS] four")]:
        add(name, t)
    n = 20000 if quick else 100000
    for name, t in [("100k a", "a" * n), ("100k spaces", " " * n), ("100k newlines", "\n" * n),
                    ("100k digits", "7" * n), ("100k ab", "ab" * (n // 2)),
                    ("100k exclam", "!" * n), ("20k emoji", "😀" * (n // 5)),
                    ("30k han", "中" * (n * 3 // 10)), ("100k a then space", "a" * n + " b")]:
        add(name, t)

    # Every code point with a canonical decomposition or a combining class (by this Python's
    # Unicode data), composed, decomposed and among other marks: checks the NFC/NFD tables.
    marks, composed = [], []
    for cp in range(0x110000):
        if 0xD800 <= cp < 0xE000:
            continue
        ch = chr(cp)
        d = unicodedata.decomposition(ch)
        if unicodedata.combining(ch):
            marks.append(f"a{ch}\u0323{ch}\u0301 ")
        if d and not d.startswith("<"):
            composed.append(f"{ch}{unicodedata.normalize('NFD', ch)} ")
    add("all combining marks", "".join(marks))
    add("all canonical decompositions", "".join(composed))
    add("hangul syllables nfd", unicodedata.normalize(
        "NFD", "".join(chr(c) for c in range(0xAC00, 0xD7A4, 7))))

    with open(CORPUS, encoding="utf-8", newline="") as f:
        corpus = f.read()
    paragraphs = [p for p in corpus.split("\n\n") if p.strip()]
    for i, p in enumerate(paragraphs):
        add(f"paragraph {i + 1}", p, i < 3)
    add("whole corpus", corpus, True)

    rng = random.Random(1234)
    alphabet = (list("abcXYZ019 '\t\n\r.,!?-_") + ["é", "e\u0301", "中", "語", "😀", "\u200d",
                "\u0301", "\u0323", "ß", "ſ", "\u2581", "ـ", "ं", "\u00a0", "\u3000", "<s>",
                "</s>", "<|endoftext|>", "<mask>", "[WORD]", "'s", "'LL", "  ", "\u1100", "\u1161",
                "\u11a8", "Ġ", "\x00", "\ufffd"])
    for k in range(20 if quick else 60):
        add(f"random {k}", "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 120))))

    add("invalid ff", b"\xff", True)
    add("invalid mix", b"abc\xc3 | \xed\xa0\x80x | \xc0\xaf\xe0\x80\xaf | \xf4\x90\x80\x80! | "
        b"ok\xe2\x82 end | \x80\x80\xbf a | \xf5\xf8\xfc\xfe | <|endo\xfftext|> <s\x80> | \xf0\x9f\x98",
        True)
    add("random bytes", b"\n".join(bytes(rng.randrange(256) for _ in range(rng.randint(1, 80)))
                                    for _ in range(20)))
    return c


def hf_ids(tok, text, bos):
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return tok.encode(text, add_special_tokens=bos).ids


def bench_ids(bench, fixture, path, bos):
    cmd = [bench, "tokenize", fixture, path] + (["--bos"] if bos else [])
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        return None, r.stderr.decode("utf-8", "replace").strip()
    return json.loads(r.stdout), None


def describe(ours, ref):
    i = 0
    while i < min(len(ours), len(ref)) and ours[i] == ref[i]:
        i += 1
    return (f"first difference at index {i} (lengths {len(ours)} vs {len(ref)}): "
            f"bench {ours[max(0, i - 3):i + 5]} hf {ref[max(0, i - 3):i + 5]}")


def run_jsonl(bench, fixture, texts, bos, tmp):
    path = os.path.join(tmp, "cases.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps(t) + "\n")
    cmd = [bench, "tokenize", fixture, path, "--jsonl"] + (["--bos"] if bos else [])
    r = subprocess.run(cmd, capture_output=True)
    if r.returncode != 0:
        return None, r.stderr.decode("utf-8", "replace").strip()
    lines = r.stdout.decode().splitlines()
    if len(lines) != len(texts):
        return None, f"--jsonl printed {len(lines)} lines for {len(texts)} texts"
    return [json.loads(x) for x in lines], None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench", required=True)
    ap.add_argument("--fixtures", default=os.path.join(ROOT, "tests", "fixtures", "tokenizers"))
    ap.add_argument("--only", help="one fixture name")
    ap.add_argument("--quick", action="store_true", help="shorter long-text cases")
    args = ap.parse_args()
    fixtures = sorted(glob.glob(os.path.join(args.fixtures, "*.json")))
    if args.only:
        fixtures = [f for f in fixtures if os.path.basename(f) == args.only + ".json"]
    if not fixtures:
        print("no fixtures found")
        print("0 passed, 1 failed")
        return 1
    cases = text_cases(args.quick)
    plain = [c for c in cases if isinstance(c[1], bytes) or c[0] in PLAIN]
    batched = [c for c in cases if not isinstance(c[1], bytes)]
    passed = failed = 0

    def check(label, ours, err, ref):
        nonlocal passed, failed
        if err is not None:
            failed += 1
            print(f"FAIL {label}: bench failed: {err}")
        elif ours != ref:
            failed += 1
            print(f"FAIL {label}: {describe(ours, ref)}")
        else:
            passed += 1

    with tempfile.TemporaryDirectory() as tmp:
        for fx in fixtures:
            tok = Tokenizer.from_file(fx)
            name = os.path.basename(fx)[:-5]
            for bos in (False, True):
                group = [c for c in batched if c[2] or not bos]
                got, err = run_jsonl(args.bench, fx, [c[1] for c in group], bos, tmp)
                for i, (case, text, _) in enumerate(group):
                    check(f"{name}: {case}{' (--bos)' if bos else ''} [jsonl]",
                          got[i] if got else None, err, hf_ids(tok, text, bos))
            for case, text, with_bos in plain:
                path = os.path.join(tmp, "case.txt")
                with open(path, "wb") as f:
                    f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
                for bos in ([False, True] if with_bos else [False]):
                    ours, err = bench_ids(args.bench, fx, path, bos)
                    check(f"{name}: {case}{' (--bos)' if bos else ''}", ours, err,
                          hf_ids(tok, text, bos))
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
