# standin_suite.py — a shipped suite shrunk for a CPU test: every length-like value (lengths,
# length, at, base_length, prompt, recent, heavy, threshold, seq_len) divided by K (lists keep
# their order, duplicates dropped), a train recipe cut to one tiny layer and a few steps, the rest
# (phases, variants, report requests, report options) as shipped.
# usage: python standin_suite.py SUITE.yaml K OUT.yaml
import sys

import yaml

SCALED = {"lengths", "length", "at", "base_length", "prompt", "recent", "heavy", "threshold", "seq_len"}
TINY_RECIPE = {"layers": 1, "hidden": 16, "heads": 2, "intermediate": 32, "vocab_size": 512, "batch": 4}
STEPS = 12


def scale(v, k):
    if isinstance(v, bool) or not isinstance(v, (int, list)):
        return v
    if isinstance(v, int):
        return max(2, v // k)
    out = []
    for x in v:
        y = scale(x, k)
        if y not in out:
            out.append(y)
    return out


def walk(node, k):
    if isinstance(node, dict):
        return {key: scale(val, k) if key in SCALED else walk(val, k) for key, val in node.items()}
    if isinstance(node, list):
        return [walk(x, k) for x in node]
    return node


def main():
    src, k, dst = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    suite = walk(yaml.safe_load(open(src, encoding="utf-8")), k)
    for recipe in (suite.get("train") or {}).values():
        recipe.update(TINY_RECIPE)
        recipe["tokens"] = recipe["seq_len"] * recipe["batch"] * STEPS
        recipe["warmup"] = min(recipe.get("warmup", 0), STEPS // 4)
    yaml.safe_dump(suite, open(dst, "w", encoding="utf-8"), allow_unicode=True, sort_keys=False)


main()
