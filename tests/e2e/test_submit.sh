# test_submit.sh — `bench submit --slurm` and `bench status` without a cluster: stand-in scontrol,
# sbatch and squeue on the PATH record what bench asks and answer like Slurm does. Checks the
# packing against MaxArraySize, the sbatch calls (array, then the report with afterany on the
# array's id), submitted.json, the dry run, resubmission (only what is left; refused while queued),
# the status lines, and the usage errors. (tests/e2e/test_slurm.sh runs a real cluster.)
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W="$TMP/sub mit"
FAKE=$TMP/fakebin
mkdir -p "$W/data" "$FAKE"
cat > "$FAKE/scontrol" <<'EOF'
#!/bin/sh
[ "$1 $2" = "show config" ] || exit 1
printf 'Configuration data as of 2026-01-01T00:00:00\nMaxArraySize            = %s\nMaxJobCount = 10000\n' "${FAKE_MAX_ARRAY:-3}"
EOF
cat > "$FAKE/sbatch" <<'EOF'
#!/bin/sh
n=$(cat "$FAKE_DIR/next" 2>/dev/null || echo 100)
echo $((n + 1)) > "$FAKE_DIR/next"
printf '%s\n' "$*" >> "$FAKE_DIR/sbatch.calls"
[ -n "${FAKE_SBATCH_FAIL:-}" ] && { echo "sbatch: error: Invalid partition name specified" >&2; exit 1; }
echo "$n;benchtest"
EOF
cat > "$FAKE/squeue" <<'EOF'
#!/bin/sh
[ -f "$FAKE_DIR/queue" ] || { echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; }
cat "$FAKE_DIR/queue"
EOF
chmod +x "$FAKE"/*
export FAKE_DIR=$TMP PATH="$FAKE:$PATH"
cd "$W" || exit 1

expect_rc "init-model" 0 "$BENCH" init-model models/tiny --arch llama --seed 3
for i in $(seq 100); do echo "the quiet river ran over the old stone under the long night light $i."; done > data/text.txt
cat > suite.yaml <<'EOF'
suite: packed
defaults: { model: tiny, dataset: text, protocol: chunks, windows: 1, lengths: [16, 32], seeds: [1, 2, 3],
            rope: native, cache: full, dtype: fp32 }
models: { tiny: { path: models/tiny } }
datasets: { text: { path: data/text.txt } }
rope: { native: { type: model } }
cache: { full: { type: full } }
phases: [ { id: p } ]
EOF
SUB=results/packed/slurm/submitted.json
field() { "$PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$1" "$2"; }

# ---- usage errors ----
expect_err "no --slurm" "needs a scheduler: --slurm" "$BENCH" submit suite.yaml
expect_err "no suite" "needs a suite file" "$BENCH" submit --slurm
expect_err "bad time" "--time: '3 days'" "$BENCH" submit suite.yaml --slurm --time "3 days"
expect_err "bad partition" "--partition: 'a b' is not a Slurm name" "$BENCH" submit suite.yaml --slurm --partition "a b"
expect_err "bad max-parallel" "--max-parallel: '0'" "$BENCH" submit suite.yaml --slurm --max-parallel 0
expect_err "unknown option" "unknown option '--nodes'" "$BENCH" submit suite.yaml --slurm --nodes 2
sed 's|models/tiny|models/none|' suite.yaml > missing.yaml
expect_err "missing model" "model 'tiny': path" "$BENCH" submit missing.yaml --slurm
expect_true "missing model: nothing submitted" test ! -e "$TMP/sbatch.calls"

# ---- dry run ----
expect_out "dry run" "dry run: nothing submitted" "$BENCH" submit suite.yaml --slurm --dry-run --gres gpu:1 --time 1:00:00
expect_true "dry run: 6 jobs in at most 3 shards" grep -q "6 jobs to run in [1-3] array tasks ([1-3] shards, MaxArraySize 3)" <<<"$OUT"
expect_true "dry run: sbatch not called" test ! -e "$TMP/sbatch.calls"
expect_true "dry run: scripts" test -x results/packed/slurm/array.sh -a -x results/packed/slurm/report.sh
expect_true "dry run: no submitted.json" test ! -e $SUB
expect_true "dry run: gres in the array" grep -q '^#SBATCH --gres=gpu:1$' results/packed/slurm/array.sh
expect_true "dry run: bash reads the scripts" bash -n results/packed/slurm/array.sh

# ---- submit ----
expect_out "submit" "submitted array job 100 (" "$BENCH" submit suite.yaml --slurm --partition test --max-parallel 2
expect_true "submit: report job" grep -q "report job 101 (afterany:100)" <<<"$OUT"
expect_true "sbatch: array first" test "$(sed -n 1p "$TMP/sbatch.calls")" = "--parsable $W/results/packed/slurm/array.sh"
expect_true "sbatch: report after the array" test "$(sed -n 2p "$TMP/sbatch.calls")" = "--parsable --dependency=afterany:100 $W/results/packed/slurm/report.sh"
expect_true "recorded ids" test "$(field $SUB array_job_id) $(field $SUB report_job_id)" = "100 101"
expect_true "at most MaxArraySize shards" test "$(field $SUB shards)" -le 3
expect_true "tasks cover the matrix once" "$PYTHON" -c '
import json, sys
s = json.load(open(sys.argv[1])); plan = json.load(open(sys.argv[2]))
ids = [i for t in s["tasks"] for i in t["jobs"]]
assert sorted(ids) == sorted({j["job_id"] for j in plan["jobs"]}), ids
assert all(t["shard"] == "%d/%d" % (t["task"] + 1, s["shards"]) for t in s["tasks"])
assert s["array"].endswith("%2")' $SUB <("$BENCH" plan suite.yaml --json)

# Each task's --shard runs exactly its jobs: run them all by hand as the array would.
for t in $("$PYTHON" -c 'import json,sys; print(" ".join(str(t["task"]) for t in json.load(open(sys.argv[1]))["tasks"]))' $SUB); do
  env SLURM_ARRAY_TASK_ID=$t bash results/packed/slurm/array.sh >/dev/null 2>&1
done
expect_true "the tasks ran every job" test "$(ls results/packed/jobs | wc -l)" -eq 6
expect_true "tasks wrote no report" test ! -e reports/packed/REPORT.md
bash results/packed/slurm/report.sh >/dev/null 2>&1
expect_true "report step wrote the report" test -s reports/packed/REPORT.md

# ---- status ----
printf '100_0|RUNNING|None\n101|PENDING|Dependency\n' > "$TMP/queue"
expect_out "status: array" "slurm     array 100" "$BENCH" status results/packed
expect_true "status: squeue state" grep -q "RUNNING" <<<"$OUT"
expect_true "status: report waits" grep -q "report job PENDING (Dependency)" <<<"$OUT"
expect_true "status: jobs per task" grep -q -E "task 0 +shard 1/[1-3]: [0-9]+/[0-9]+ jobs done" <<<"$OUT"
expect_err "resubmit while queued" "still queued" "$BENCH" submit suite.yaml --slurm
rm "$TMP/queue"
expect_out "status: queue empty" "0 tasks queued or running" "$BENCH" status results/packed
expect_out "resubmit: nothing left" "nothing to submit" "$BENCH" submit suite.yaml --slurm
rm results/packed/jobs/"$(ls results/packed/jobs | head -n 1)"
expect_out "resubmit: what is left" "1 job to run in 1 array task" "$BENCH" submit suite.yaml --slurm
expect_true "resubmit: one task of one job" "$PYTHON" -c '
import json, sys; t = json.load(open(sys.argv[1]))["tasks"]; assert len(t) == 1 and len(t[0]["jobs"]) == 1' $SUB
expect_err "sbatch refuses" "sbatch refused the job (exit 1): sbatch: error: Invalid partition" env FAKE_SBATCH_FAIL=1 "$BENCH" submit suite.yaml --slurm
mkdir -p "$TMP/only-scontrol"
cp "$FAKE/scontrol" "$TMP/only-scontrol/"
expect_err "no sbatch" "sbatch not found" env PATH="$TMP/only-scontrol" "$BENCH" submit suite.yaml --slurm
cd "$ROOT" || exit 1
finish
