#!/usr/bin/env bash
# Runs each libFuzzer harness for a bounded time with its seed corpus and regression inputs
# (tests/fuzz/corpus/<harness>/) and its dictionary when there is one (tests/fuzz/<harness>.dict).
# usage: scripts/fuzz.sh SECONDS HARNESS...
set -uo pipefail
seconds=$1; shift
status=0
for bin in "$@"; do
  name=$(basename "$bin")
  corpus=build/fuzz/corpus/$name
  seeds=tests/fuzz/corpus/$name
  mkdir -p "$corpus"
  [ -d "$seeds" ] && cp -n "$seeds"/* "$corpus"/ 2>/dev/null
  dict=()
  [ -f tests/fuzz/"$name".dict ] && dict=(-dict=tests/fuzz/"$name".dict)
  echo "== $name for ${seconds}s"
  "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 "${dict[@]}" "$corpus" \
    -artifact_prefix=build/fuzz/"$name"- 2>&1 | tail -n 3 || status=1
done
exit $status
