# test_compare.sh — `bench compare DIR_A DIR_B [--tol PCT]` on the lab-note results.
. "$(dirname "$0")/lib.sh"

FIX=$ROOT/tests/fixtures/reports/lab_notes
PY=$PYTHON
[ -x "$PY" ] || PY=python3

expect_out "identical dirs: 0 over tolerance" "over tolerance 1%: 0 jobs" "$BENCH" compare "$FIX" "$FIX"
expect_true "identical dirs: every job matched" test -n "$(echo "$OUT" | grep 'matched 73 jobs (73 by job id')"
expect_true "identical dirs: max 0" test -n "$(echo "$OUT" | grep 'max |Δ| 0.000%')"
expect_true "identical dirs: no provenance difference" test -n "$(echo "$OUT" | grep -A1 'provenance differences' | grep none)"

# seed 003's alignment check: geo_500k at 16384 is 16.991 on the A100 and 17.947 on the A800
B=$TMP/b
cp -r "$FIX" "$B"
job=$(grep -l '"ppl": 16.991' "$B"/jobs/*.json | head -1)
id=$(basename "$job" .json)
"$PY" - "$job" <<'PYEOF'
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["metrics"]["ppl"] = 17.947
j["spec"]["device"] = "cuda:1"
json.dump(j, open(p, "w"))
PYEOF
"$PY" - "$B/manifest.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
m = json.load(open(p))
m["gpu"] = "NVIDIA A800 80GB"
m["host"] = "a800-box"
m["started"] = "2030-01-01T00:00:00Z"
json.dump(m, open(p, "w"))
PYEOF
expect_rc "perturbed ppl over tolerance: exit 1" 1 "$BENCH" compare "$FIX" "$B" --tol 1
expect_true "names the job" test -n "$(echo "$OUT" | grep "$id")"
expect_true "states the difference" test -n "$(echo "$OUT" | grep '+5.627%')"
expect_true "summary max" test -n "$(echo "$OUT" | grep 'max |Δ| 5.627%')"
expect_true "provenance: gpu" test -n "$(echo "$OUT" | grep 'gpu: NVIDIA A100 95GB | NVIDIA A800 80GB')"
expect_true "provenance: host" test -n "$(echo "$OUT" | grep 'host: autodl-a100 | a800-box')"
expect_true "provenance: times left out" test -z "$(echo "$OUT" | grep 'started:')"
expect_rc "within a looser tolerance: exit 0" 0 "$BENCH" compare "$FIX" "$B" --tol 6
expect_rc "tolerance with a percent sign" 0 "$BENCH" compare "$FIX" "$B" --tol 6%

# ids differ: matched by phase + spec without device; a job on one side only
C=$TMP/c
cp -r "$B" "$C"
"$PY" - "$C/jobs/$id.json" <<'PYEOF'
import json, os, sys
p = sys.argv[1]
j = json.load(open(p))
j["job_id"] = "0000000000000000"
json.dump(j, open(os.path.join(os.path.dirname(p), "0000000000000000.json"), "w"))
os.remove(p)
PYEOF
rm "$(ls "$C"/jobs/*.json | tail -1)"
expect_rc "renamed job still compared" 1 "$BENCH" compare "$FIX" "$C"
expect_true "matched by spec" test -n "$(echo "$OUT" | grep '1 by phase and spec')"
expect_true "only in A" test -n "$(echo "$OUT" | grep 'only in A: 1 job')"

expect_err "bad tolerance" "non-negative percentage" "$BENCH" compare "$FIX" "$B" --tol abc
expect_err "missing dir" "does not exist" "$BENCH" compare "$FIX" "$TMP/none"
expect_err "one dir only" "missing results directories" "$BENCH" compare "$FIX"
finish
