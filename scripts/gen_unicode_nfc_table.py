#!/usr/bin/env python3
"""gen_unicode_nfc_table.py — writes engine/tokenizer/unicode_nfc_table.h, the canonical normalization data
(NFC/NFD) used by the tokenizer normalizers.

Regenerate with:
    PY=$(scripts/ucd9_env.sh) && $PY scripts/gen_unicode_nfc_table.py > engine/tokenizer/unicode_nfc_table.h

Unicode version: the data must be Unicode 9.0.0, because that is what Hugging Face `tokenizers`
normalizes with (its normalization crate carries Unicode 9.0.0 tables; Python's own `unicodedata`
is newer and differs, e.g. U+0C3C gained a combining class and U+11938 a decomposition after 9.0).
scripts/ucd9_env.sh builds an environment with `unicodedata2` 9.0.0 and `tokenizers`; this script
refuses other versions unless --any-version is given, and with `tokenizers` importable it checks
every code point's NFC and NFD against the library before writing anything.

Tables (all lookups by code point):
  class_of(cp)   two-stage table (blocks of 128) giving a class index; each class has a canonical
                 combining class (ccc) and two flags: NFC_UNSAFE (the code point can change under NFC
                 or combine with the one before it: ccc != 0, NFC quick-check No or Maybe) and
                 NFD_UNSAFE (ccc != 0 or it has a canonical decomposition, Hangul included).
  decompositions full (recursive) canonical decompositions, Hangul syllables excluded (algorithmic).
  compositions   primary composites: (first, second) -> composite, sorted by first then second.
"""
import argparse
import sys

BLOCK = 128
NFC_UNSAFE, NFD_UNSAFE = 1, 2
S_BASE, L_BASE, V_BASE, T_BASE = 0xAC00, 0x1100, 0x1161, 0x11A7
L_COUNT, V_COUNT, T_COUNT = 19, 21, 28
S_COUNT = L_COUNT * V_COUNT * T_COUNT


def load_ucd(any_version):
    try:
        import unicodedata2 as ud
    except ImportError:
        import unicodedata as ud
    if ud.unidata_version != "9.0.0" and not any_version:
        sys.exit(f"gen_unicode_nfc_table: Unicode data is {ud.unidata_version}, need 9.0.0 "
                 "(run with the python printed by scripts/ucd9_env.sh, or pass --any-version)")
    return ud


def all_code_points():
    return [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]


def canonical_raw(ud, cp):
    d = ud.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    return [int(x, 16) for x in d.split()]


def build(ud):
    cps = all_code_points()
    ccc = {cp: ud.combining(chr(cp)) for cp in cps}
    decomp = {}
    second_of_pair = set()
    comps = []
    for cp in cps:
        if S_BASE <= cp < S_BASE + S_COUNT:
            continue
        raw = canonical_raw(ud, cp)
        if raw is None:
            continue
        decomp[cp] = [ord(ch) for ch in ud.normalize("NFD", chr(cp))]
        if len(raw) == 2 and ud.normalize("NFC", chr(cp)) == chr(cp):
            comps.append((raw[0], raw[1], cp))
            second_of_pair.add(raw[1])
    for v in range(V_BASE, V_BASE + V_COUNT):
        second_of_pair.add(v)
    for t in range(T_BASE + 1, T_BASE + T_COUNT):
        second_of_pair.add(t)

    classes = {(0, 0): 0}
    class_of = {}
    for cp in cps:
        flags = 0
        c = ccc[cp]
        is_hangul = S_BASE <= cp < S_BASE + S_COUNT
        if c != 0 or ud.normalize("NFC", chr(cp)) != chr(cp) or cp in second_of_pair:
            flags |= NFC_UNSAFE
        if c != 0 or cp in decomp or is_hangul:
            flags |= NFD_UNSAFE
        key = (c, flags)
        if key != (0, 0):
            class_of[cp] = classes.setdefault(key, len(classes))
    comps.sort()
    return classes, class_of, decomp, comps


def two_stage(class_of):
    n_blocks = 0x110000 // BLOCK
    blocks = {tuple([0] * BLOCK): 0}
    order = [tuple([0] * BLOCK)]
    stage1 = []
    for b in range(n_blocks):
        row = tuple(class_of.get(b * BLOCK + i, 0) for i in range(BLOCK))
        if row not in blocks:
            blocks[row] = len(order)
            order.append(row)
        stage1.append(blocks[row])
    while stage1 and stage1[-1] == 0:
        stage1.pop()
    return stage1, order


def c_array(ctype, name, values, per_line=24):
    lines = [f"static const {ctype} {name}[{len(values)}] = {{"]
    for i in range(0, len(values), per_line):
        lines.append("  " + ",".join(str(v) for v in values[i:i + per_line]) + ",")
    lines.append("};")
    return "\n".join(lines)


def check_against_tokenizers(ud, cps):
    try:
        from tokenizers import normalizers
    except ImportError:
        print("gen_unicode_nfc_table: tokenizers not importable, skipping the check",
              file=sys.stderr)
        return
    nfc, nfd = normalizers.NFC(), normalizers.NFD()
    bad = 0
    for cp in cps:
        s = chr(cp)
        t = "a" + s + "\u0323\u0301" + s if ud.combining(s) else s
        for lib, form in ((nfc, "NFC"), (nfd, "NFD")):
            if lib.normalize_str(t) != ud.normalize(form, t):
                bad += 1
                if bad <= 10:
                    print(f"gen_unicode_nfc_table: {form} of U+{cp:04X} differs from tokenizers",
                          file=sys.stderr)
    if bad:
        sys.exit(f"gen_unicode_nfc_table: {bad} differences from tokenizers; wrong Unicode version?")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--any-version", action="store_true",
                    help="accept Unicode data other than 9.0.0 (ids may then differ from HF)")
    args = ap.parse_args()
    ud = load_ucd(args.any_version)
    cps = all_code_points()
    if not args.any_version:
        check_against_tokenizers(ud, cps)
    classes, class_of, decomp, comps = build(ud)
    stage1, blocks = two_stage(class_of)
    class_list = sorted(classes.items(), key=lambda kv: kv[1])
    dec_cps = sorted(decomp)
    dec_off, dec_data = [], []
    for cp in dec_cps:
        dec_off.append(len(dec_data))
        dec_data.extend(decomp[cp])
    dec_off.append(len(dec_data))

    out = []
    out.append("// unicode_nfc_table.h — canonical normalization data (NFC/NFD), Unicode "
               f"{ud.unidata_version}. Generated; do not edit.")
    out.append("// Regenerate: PY=$(scripts/ucd9_env.sh) && $PY scripts/gen_unicode_nfc_table.py "
               "> engine/tokenizer/unicode_nfc_table.h")
    out.append("// Unicode 9.0.0 is what Hugging Face `tokenizers` normalizes with; see the script.")
    out.append("// Included by engine/tokenizer/unicode.c only.")
    out.append("#ifndef BENCH_UNICODE_NFC_TABLE_H")
    out.append("#define BENCH_UNICODE_NFC_TABLE_H")
    out.append("")
    out.append("#include <stdint.h>")
    out.append("")
    out.append(f'#define UNF_UNICODE_VERSION "{ud.unidata_version}"')
    out.append(f"#define UNF_BLOCK {BLOCK}")
    out.append(f"#define UNF_NFC_UNSAFE {NFC_UNSAFE}")
    out.append(f"#define UNF_NFD_UNSAFE {NFD_UNSAFE}")
    out.append(f"#define UNF_STAGE1_LEN {len(stage1)}")
    out.append(f"#define UNF_N_DECOMP {len(dec_cps)}")
    out.append(f"#define UNF_N_COMP {len(comps)}")
    out.append("")
    out.append("// class index of block b = cp / UNF_BLOCK (blocks past the end are all class 0)")
    s1type = "uint8_t" if len(blocks) <= 256 else "uint16_t"
    out.append(c_array(s1type, "unf_stage1", stage1))
    out.append("// class index of cp = unf_stage2[unf_stage1[cp / UNF_BLOCK] * UNF_BLOCK + cp % UNF_BLOCK]")
    out.append(c_array("uint8_t", "unf_stage2", [v for b in blocks for v in b], per_line=32))
    out.append("// per class: canonical combining class, UNF_*_UNSAFE flags")
    out.append(c_array("uint8_t", "unf_class_ccc", [k[0] for k, _ in class_list]))
    out.append(c_array("uint8_t", "unf_class_flags", [k[1] for k, _ in class_list]))
    out.append("// code points with a canonical decomposition (sorted); theirs is "
               "unf_decomp_data[unf_decomp_off[i] .. unf_decomp_off[i + 1])")
    out.append(c_array("uint32_t", "unf_decomp_cp", dec_cps, per_line=12))
    out.append(c_array("uint16_t", "unf_decomp_off", dec_off, per_line=16))
    out.append(c_array("uint32_t", "unf_decomp_data", dec_data, per_line=12))
    out.append("// primary composites, sorted by (first, second)")
    out.append(c_array("uint32_t", "unf_comp_first", [c[0] for c in comps], per_line=12))
    out.append(c_array("uint32_t", "unf_comp_second", [c[1] for c in comps], per_line=12))
    out.append(c_array("uint32_t", "unf_comp_result", [c[2] for c in comps], per_line=12))
    out.append("")
    out.append("#endif")
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
