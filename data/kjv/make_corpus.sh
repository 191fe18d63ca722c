#!/usr/bin/env bash
# Regenerates train.txt and valid.txt from Debian's King James Bible (public domain text; see
# README.md). Needs the packages bible-kjv-text (the text) and bible-kjv (its `bible` reader):
#   apt-get install bible-kjv      # pulls in bible-kjv-text
#   data/kjv/make_corpus.sh
# Each chapter becomes a heading line ("Genesis 1"), a blank line, its verses joined into one
# paragraph without verse numbers, and a blank line. Every 20th chapter (the 20th, 40th, ...)
# goes to valid.txt, the others to train.txt, in canonical order.
set -euo pipefail
cd "$(dirname "$0")"
command -v bible >/dev/null || { echo "make_corpus.sh: 'bible' not found (apt-get install bible-kjv)" >&2; exit 2; }
bible -l0 "gen1:1-rev22:21" | LC_ALL=C awk '
  function flush() {
    if (head == "") return
    out = (++n % 20 == 0) ? "valid.txt" : "train.txt"
    printf "%s\n\n%s\n\n", head, text > out
    head = ""; text = ""
  }
  /^[^ ]/ { flush(); head = $0; next }
  /^ +[0-9]+ / { sub(/^ +[0-9]+ /, ""); text = text == "" ? $0 : text " " $0; next }
  END { flush() }
' 
wc -c train.txt valid.txt
