# test_runner.sh — `bench run` as a night run needs it, and `bench status`: worker processes, an
# injected oom / crash / abort / exit and a real allocation failure recorded while the run completes,
# every job through the engine (device and compute dtype recorded; after oom the engine reopens; a
# device error hands over to a fresh worker; a device that cannot open fails its jobs, no crash; GPU
# devices refused before anything runs where none can be used),
# kill -9 of the supervisor then re-run (every job exactly once, numbers identical to an
# uninterrupted run), a second runner refused naming the first, SIGTERM then resume, a hanging job
# abandoned after the grace period, shards 1/3 + 2/3 + 3/3 = the whole and disjoint, --only,
# --dry-run writes nothing, --devices with two workers, the manifest's provenance, missing paths
# listed at once, plan warnings shown, and no environment value written anywhere.
# Failures are injected through BENCH_FAULT, a test hook read only by the workers (runner_worker.c).
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
export BENCH_SECRET_TEST=hunter2-$$
W=$TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1
ASAN=${BENCH_ASAN:-0}

expect_rc "init-model" 0 "$BENCH" init-model models/tiny --arch llama --seed 3
word_text 777 160 > data/text.txt
export BENCH_E2E_MODELS=$W/models   # referenced by the suite: its value must not be written either

cat > suite.yaml <<'EOF'
suite: night
title: runner end to end
defaults:
  model: tiny
  dataset: text
  protocol: chunks
  windows: 3
  lengths: [32, 64]
  seeds: [1]
  rope: native
  cache: full
  dtype: fp32
models:
  tiny: { path: "${BENCH_E2E_MODELS}/tiny" }
datasets:
  text: { path: data/text.txt }
rope:
  native: { type: model }
  geo: { type: geometric, theta: 500000 }
cache:
  full: { type: full }
phases:
  - id: chunks
    rope: [native, geo]
  - id: random
    protocol: random
    seeds: [1, 2]
  - id: sliding
    protocol: sliding
    stride: 16
    rope: [geo]
  - id: seeds
    seeds: [1, 2]
    lengths: [48]
EOF
N=12
"$BENCH" plan suite.yaml --json > plan.json
IDS=($("$PYTHON" -c '
import json, sys
seen = []
for j in json.load(open("plan.json"))["jobs"]:
    if j["job_id"] not in seen: seen.append(j["job_id"])
print(" ".join(seen))'))
expect_true "plan has $N jobs" test "${#IDS[@]}" -eq $N

# Prints, per job file, "id status metrics" without the fields that time the run.
cat > numbers.py <<'EOF'
import glob, json, os, sys
TIMING = {"tokens_per_s", "wall_s", "forward_s", "peak_mem_bytes"}
for path in sorted(glob.glob(sys.argv[1] + "/jobs/*.json")):
    j = json.load(open(path))
    m = {k: v for k, v in (j["metrics"] or {}).items() if k not in TIMING}
    print(j["job_id"], j["status"], json.dumps(j["spec"], sort_keys=True), json.dumps(m, sort_keys=True))
EOF
numbers() { "$PYTHON" numbers.py "$1"; }
count_jobs() { ls "$1"/jobs/*.json 2>/dev/null | wc -l; }
# wait_until SECONDS CMD...: polls CMD every 0.1 s.
wait_until() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  while ! "$@" >/dev/null 2>&1; do
    [ $SECONDS -ge $end ] && return 1
    sleep 0.1
  done
}
has_jobs() { [ "$(count_jobs "$1")" -ge "$2" ]; }
running_job() { grep -q "\"job_id\": \"$2\"" "$1/.run/status.json"; }
DELAY=150
[ "$ASAN" = 1 ] && DELAY=250

# ---- dry run and missing paths: nothing written ----
expect_out "dry run lists jobs" "would run" "$BENCH" run suite.yaml --dry-run --results dry
expect_true "dry run: $N jobs" grep -q "dry run: $N jobs would run, 0 already done" <<<"$OUT"
expect_true "dry run shows the plan's warnings" grep -q "bench: warning: phase 'seeds': seeds 1, 2 change nothing" <<<"$ERR"
expect_true "dry run wrote nothing" test ! -e dry
sed -e 's#/tiny"#/gone"#' -e 's#data/text.txt#data/gone.txt#' suite.yaml > missing.yaml
expect_err "missing model" "model 'tiny': path '$W/models/gone' does not exist" "$BENCH" run missing.yaml --results miss
expect_true "missing dataset listed at once" grep -q "dataset 'text': path 'data/gone.txt' does not exist" <<<"$ERR"
expect_true "missing: count" grep -q "2 missing paths; no job was run" <<<"$ERR"
expect_true "missing: nothing written" test ! -e miss
expect_err "bad shard" "--shard: '0/3'" "$BENCH" run suite.yaml --shard 0/3
expect_err "cuda refused before anything runs" "device 'cuda:0'" "$BENCH" run suite.yaml --devices 0 --results cu
expect_true "cuda: nothing written" test ! -e cu
expect_err "status of a non-results dir" "is not a results directory" "$BENCH" status data

# ---- the reference: an uninterrupted run ----
expect_rc "reference run" 0 "$BENCH" run suite.yaml --results ref --reports rep
expect_true "reference: $N results" test "$(count_jobs ref)" -eq $N
expect_true "suite copied" cmp suite.yaml ref/suite.yaml
expect_true "plan warning in run.log" grep -q "warning: phase 'seeds': seeds 1, 2 change nothing" ref/run.log
expect_true "run.log lines are timestamped" grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z \[1/12\] ' ref/run.log
expect_true "run.log: finished" grep -q "finished: $N ok, 0 failed, 0 already done" ref/run.log
expect_true "run.log: report written" grep -q "report: rep/REPORT.md ($N job results" ref/run.log
expect_true "report written after the last job" test -s rep/REPORT.md
SUITE_SHA=$(sha256sum suite.yaml | cut -d' ' -f1)
cat > manifest_check.py <<'EOF'
import json, socket, sys
m = json.load(open(sys.argv[1] + "/manifest.json"))
want = ["schema", "suite", "suite_path", "suite_sha256", "bench_version", "git_commit", "engine_numerics",
        "host", "cpu", "cpu_cores", "memory_bytes", "gpus", "driver", "cuda", "cuda_driver", "models",
        "datasets", "started", "finished", "runs"]
bad = [k for k in want if k not in m]
assert not bad, "missing keys %s" % bad
assert m["schema"] == "bench.manifest/1" and m["suite"] == "night"
assert m["suite_sha256"] == sys.argv[2], m["suite_sha256"]
assert m["host"] == socket.gethostname()
assert len(m["git_commit"]) >= 7 and m["bench_version"]
assert isinstance(m["gpus"], list)
assert len(m["models"]["tiny"]["fingerprint"]) == 64 and m["models"]["tiny"]["params"] > 0
assert len(m["datasets"]["text"]["fingerprint"]) == 64
assert m["started"] <= m["finished"]
r = m["runs"][-1]
assert r["outcome"] == "completed" and r["jobs"] == 12 and r["ok"] + r["skipped"] == 12, r
print("manifest ok", len(m["runs"]), "runs")
EOF
expect_out "manifest provenance" "manifest ok 1 runs" "$PYTHON" manifest_check.py ref "$SUITE_SHA"
expect_out "status after the run" "not running; the last run finished" "$BENCH" status ref
expect_true "status: all done" grep -q "jobs      $N/$N done (100%): $N ok, 0 failed; 0 to go" <<<"$OUT"
numbers ref > ref.numbers
cat > engine_check.py <<'EOF'
import glob, json, sys
jobs = [json.load(open(p)) for p in glob.glob(sys.argv[1] + "/jobs/*.json")]
bad = [j["job_id"] for j in jobs if j["spec"]["device"] != "cpu" or j["metrics"]["compute_dtype"] != "fp32"
       or j["metrics"]["peak_mem_bytes"] <= 0]
print("engine fields ok" if jobs and not bad else "bad: %s" % bad)
EOF
expect_out "results: device cpu, compute_dtype fp32, peak memory" "engine fields ok" "$PYTHON" engine_check.py ref

# Resume: nothing recomputed.
sha256sum ref/jobs/*.json > ref.sha
expect_rc "resume: nothing to do" 0 "$BENCH" run suite.yaml --results ref
expect_true "resume: all already done" grep -q "finished: 0 ok, 0 failed, $N already done" <<<"$OUT"
expect_true "resume: files untouched" sha256sum -c --quiet ref.sha
expect_out "manifest merges runs" "manifest ok 2 runs" "$PYTHON" manifest_check.py ref "$SUITE_SHA"

# ---- kill -9 of the supervisor mid-run, then re-run ----
BENCH_FAULT=delay:$DELAY "$BENCH" run suite.yaml --results k9 >k9.out 2>&1 &
SUP=$!
expect_true "kill -9: some jobs done" wait_until 60 has_jobs k9 3
WORKER=$(grep -o 'worker [0-9]* started' k9/run.log | tail -n 1 | cut -d' ' -f2)
kill -9 $SUP
wait $SUP 2>/dev/null
expect_true "kill -9: interrupted mid-run" test "$(count_jobs k9)" -lt $N
gone() { ! kill -0 "$1" 2>/dev/null; }
expect_true "kill -9: a worker was running" test -n "$WORKER"
expect_true "kill -9: its worker died with it" wait_until 5 gone "${WORKER:-1}"
sha256sum k9/jobs/*.json > k9.sha
BEFORE=$(count_jobs k9)
expect_out "status after kill -9" "ended without finishing (killed?)" "$BENCH" status k9
expect_rc "kill -9: re-run completes" 0 "$BENCH" run suite.yaml --results k9
expect_true "kill -9: finished jobs kept" sha256sum -c --quiet k9.sha
expect_true "kill -9: the rest run once" grep -q "finished: $((N - BEFORE)) ok, 0 failed, $BEFORE already done" <<<"$OUT"
expect_true "kill -9: $N results" test "$(count_jobs k9)" -eq $N
expect_true "kill -9: no temp file left" test -z "$(find k9 -name '*.tmp.*')"
numbers k9 > k9.numbers
expect_true "kill -9: identical numbers" cmp ref.numbers k9.numbers
for id in "${IDS[@]}"; do
  [ "$(grep -c " $id .*: ok ppl" k9/run.log)" -eq 1 ] || { _bad "kill -9: job $id logged ok $(grep -c " $id .*: ok ppl" k9/run.log) times"; continue; }
  _ok
done

# ---- a second runner is refused; status while running; SIGTERM; resume ----
BENCH_FAULT=delay:$DELAY "$BENCH" run suite.yaml --results conc >conc.out 2>&1 &
SUP=$!
expect_true "concurrent: first run going" wait_until 60 has_jobs conc 1
expect_err "concurrent: second runner refused" "in use by another run (pid $SUP on host" \
  "$BENCH" run suite.yaml --results conc
expect_true "concurrent: refusal names the command" grep -q "bench run suite.yaml --results conc" <<<"$ERR"
status_shows_job() { "$BENCH" status conc | grep -qE "^running   .* L=[0-9]+ .* on cpu \(worker [0-9]+\), window"; }
expect_true "status: the running job and its progress" wait_until 20 status_shows_job
expect_out "status while running" "state     running: pid $SUP" "$BENCH" status conc
expect_true "status: ETA" grep -qE "^ETA       " <<<"$OUT"
expect_true "status: done/total" grep -qE "^jobs      [0-9]+/$N done" <<<"$OUT"
kill -TERM $SUP
wait $SUP
RC=$?
expect_true "SIGTERM: exit 143 (got $RC)" test $RC -eq 143
expect_true "SIGTERM: logged" grep -q "received SIGTERM: no new jobs" conc/run.log
expect_true "SIGTERM: stopped with some left" test "$(count_jobs conc)" -lt $N
expect_true "SIGTERM: no failed result" test -z "$(grep -L '"status": "ok"' conc/jobs/*.json)"
expect_out "status after SIGTERM" "the last run was stopped" "$BENCH" status conc
expect_rc "SIGTERM: re-run continues" 0 "$BENCH" run suite.yaml --results conc
numbers conc > conc.numbers
expect_true "SIGTERM: identical numbers" cmp ref.numbers conc.numbers

# ---- --fresh: the old results are being recomputed, not done ----
sleep 1  # the old results finished in an earlier second than the fresh run's plan
BENCH_FAULT=delay:$DELAY "$BENCH" run suite.yaml --results conc --fresh >fresh.out 2>&1 &
SUP=$!
expect_true "fresh: a job running" wait_until 20 status_shows_job
done_count() { "$BENCH" status conc | sed -nE 's#^jobs      ([0-9]+)/[0-9]+ done.*#\1#p'; }
expect_true "fresh: status does not count the old results ($(done_count)/$N)" test "$(done_count)" -lt $N
kill -TERM $SUP
wait $SUP
expect_true "fresh, stopped: still not counted ($(done_count)/$N)" test "$(done_count)" -lt $N
expect_rc "fresh: re-run of the same command" 0 "$BENCH" run suite.yaml --results conc --fresh
expect_out "fresh: all done" "jobs      $N/$N done" "$BENCH" status conc

# ---- a hanging job is abandoned after the grace period; nothing recorded for it ----
BENCH_STOP_GRACE=1 BENCH_FAULT=hang:${IDS[0]} "$BENCH" run suite.yaml --results hang >hang.out 2>&1 &
SUP=$!
expect_true "hang: job running" wait_until 30 running_job hang "${IDS[0]}"
kill -INT $SUP
wait $SUP
RC=$?
expect_true "hang: exit 130 (got $RC)" test $RC -eq 130
expect_true "hang: abandoned" grep -q "${IDS[0]} .*abandoned (the run was stopped); nothing recorded" hang/run.log
expect_true "hang: no result for it" test ! -e "hang/jobs/${IDS[0]}.json"

# ---- a worker with no sign of life for BENCH_JOB_STALL_S is taken for hung: killed, recorded crashed, the run goes on ----
expect_rc "stall: run completes" 1 env BENCH_JOB_STALL_S=1 BENCH_FAULT=hang:${IDS[0]} "$BENCH" run suite.yaml --only chunks --results stall
expect_true "stall: recorded" grep -q "hung: no sign of life (CPU time or reads) for 1 s (BENCH_JOB_STALL_S): the worker was killed (try 2 of 2)" "stall/jobs/${IDS[0]}.json"
expect_true "stall: the others ok" test "$(grep -l '"status": "ok"' stall/jobs/*.json | wc -l)" -eq 3

# ---- injected failures: recorded, the run completes, exit 1; a re-run retries them ----
F="oom:${IDS[1]},crash:${IDS[2]},crash-once:${IDS[3]},exit:${IDS[4]},abort:${IDS[5]}"
expect_rc "faults: run completes with failures" 1 env BENCH_FAULT="$F" "$BENCH" run suite.yaml --results faults
expect_true "faults: $N results" test "$(count_jobs faults)" -eq $N
status_of() { "$PYTHON" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["status"], j["error"])' "faults/jobs/$1.json"; }
expect_true "oom recorded" grep -q "^oom out of memory" <<<"$(status_of ${IDS[1]})"
expect_true "crash recorded" grep -q "^crashed worker killed by signal 11 (Segmentation fault) (try 2 of 2)" <<<"$(status_of ${IDS[2]})"
expect_true "crash once, then ok" grep -q "^ok None" <<<"$(status_of ${IDS[3]})"
expect_true "exit recorded" grep -q "^crashed worker exited with status 3" <<<"$(status_of ${IDS[4]})"
expect_true "abort recorded" grep -q "^crashed worker killed by signal 6" <<<"$(status_of ${IDS[5]})"
expect_true "the others ok" test "$(grep -l '"status": "ok"' faults/jobs/*.json | wc -l)" -eq $((N - 4))
expect_true "faults: given up logged" grep -q "given up" faults/run.log
expect_true "faults: retry logged" grep -q "it will be tried again after the other jobs" faults/run.log
expect_out "status lists failures" "failed" "$BENCH" status faults
expect_true "status: counts" grep -q "$((N - 4)) ok, 4 failed (1 oom, 0 error, 3 crashed)" <<<"$OUT"
expect_true "status: crash line" grep -q "${IDS[2]} .*: crashed: worker killed by signal 11" <<<"$OUT"
sha256sum $(grep -l '"status": "ok"' faults/jobs/*.json) > faults.sha
expect_rc "faults: re-run retries the failed" 0 "$BENCH" run suite.yaml --results faults
expect_true "faults: 4 retried" grep -q "finished: 4 ok, 0 failed, $((N - 4)) already done" <<<"$OUT"
expect_true "faults: ok results kept" sha256sum -c --quiet faults.sha
numbers faults > faults.numbers
expect_true "faults: identical numbers after retry" cmp ref.numbers faults.numbers

# The engine after a failed job (phase chunks: IDS 0..3 in one worker, in this order): out of memory
# closes the engine and the next job reopens it; a device error hands over to a fresh worker; the
# jobs that ran give the reference's numbers.
F="oom:${IDS[0]},device-error:${IDS[2]}"
expect_rc "engine faults: run completes" 1 env BENCH_FAULT="$F" "$BENCH" run suite.yaml --only chunks --results eng
status_in() { "$PYTHON" -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["status"], j["error"])' "$1/jobs/$2.json"; }
expect_true "engine: oom recorded" grep -q "^oom out of memory" <<<"$(status_in eng ${IDS[0]})"
expect_true "engine: closed after oom" grep -q "cpu: engine closed after running out of memory; it reopens for the next job" eng/run.log
expect_true "engine: the next job ok" grep -q "^ok None" <<<"$(status_in eng ${IDS[1]})"
expect_true "engine: device error recorded" grep -q "^error device error on cpu: injected" <<<"$(status_in eng ${IDS[2]})"
expect_true "engine: fresh worker after the device error" grep -q "gives way after device error in job ${IDS[2]}; a fresh worker takes the next job" eng/run.log
expect_true "engine: two workers" test "$(grep -c 'worker [0-9]* started on cpu' eng/run.log)" -eq 2
expect_true "engine: the last job ok" grep -q "^ok None" <<<"$(status_in eng ${IDS[3]})"
expect_true "engine: no crash" test -z "$(grep -l '"status": "crashed"' eng/jobs/*.json)"
numbers eng | grep ' ok ' > eng.numbers
expect_true "engine: ok jobs give the reference's numbers" test -z "$(grep -vxFf ref.numbers eng.numbers)" -a -s eng.numbers
# A device that cannot be opened: every job of its worker fails with the reason; the run ends.
expect_rc "unusable device: run completes" 1 env BENCH_FAULT=engine-fail:cpu "$BENCH" run suite.yaml --only chunks --results dead
expect_true "unusable device: 4 errors" test "$(grep -l '"error": "cpu: cannot open the device: injected' dead/jobs/*.json | wc -l)" -eq 4
expect_true "unusable device: finished" grep -q "finished: 0 ok, 4 failed" dead/run.log

# GPU devices where no GPU can be used: --device cuda refused before anything runs, `auto` is the
# CPU, and a job a suite pins to cuda fails with the engine's reason while the others run.
# (A GPU that fails its check: tests/gpu/gpu_check_sim.sh, on the CUDA simulator.)
sed -e 's/^  - id: seeds$/  - id: pinned\n    device: cuda\n    lengths: [32]\n  - id: seeds/' suite.yaml > pinned.yaml
if ! nvidia-smi -L 2>/dev/null | grep -q GPU; then
  expect_err "no GPU: --device cuda refused" "device 'cuda'" "$BENCH" run suite.yaml --device cuda --results cu
  expect_true "no GPU: the reason" grep -qE "no CUDA GPU is usable on this machine|built without CUDA" <<<"$ERR"
  expect_err "no GPU: cuda:1 refused" "device 'cuda:1'" "$BENCH" run suite.yaml --devices 1 --results cu
  expect_true "no GPU: nothing written" test ! -e cu
  expect_rc "no GPU: auto runs on the cpu" 0 "$BENCH" run suite.yaml --only chunks --results auto
  expect_out "no GPU: recorded on the cpu" "engine fields ok" "$PYTHON" engine_check.py auto
  expect_true "no GPU: no GPU check" test -z "$(grep 'GPU check' auto/run.log)"
  expect_rc "no GPU: pinned job errors" 1 "$BENCH" run pinned.yaml --only chunks,pinned --results pinned2
  expect_true "no GPU: the engine's reason" grep -qE '"error": "(device .)?cuda' pinned2/jobs/*.json
  expect_true "no GPU: the others ok" test "$(grep -l '"status": "ok"' pinned2/jobs/*.json | wc -l)" -eq 4
fi

# A worker that dies loading its model: restarted, then every job of the model recorded crashed.
expect_rc "crash while loading" 1 env BENCH_FAULT=crash-load:tiny "$BENCH" run suite.yaml --only chunks --results load
expect_true "load crash recorded" grep -q "workers died loading model 'tiny'" "load/jobs/${IDS[0]}.json"

# ---- shards: 1/3 + 2/3 + 3/3 = the whole, disjoint ----
for i in 1 2 3; do
  expect_rc "shard $i/3" 0 "$BENCH" run suite.yaml --shard $i/3 --results shards
done
expect_true "shards: $N results" test "$(count_jobs shards)" -eq $N
numbers shards > shards.numbers
expect_true "shards: identical numbers" cmp ref.numbers shards.numbers
cat > shards_check.py <<'EOF'
import json, sys
sets = [set(j["job_id"] for j in json.load(open("shards/.run/plan-shard-%d-of-3.json" % i))["jobs"]) for i in (1, 2, 3)]
whole = set(sys.argv[1:])
assert sets[0] | sets[1] | sets[2] == whole, "not covering"
assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2]), "not disjoint"
print("shards ok", [len(s) for s in sets])
EOF
expect_out "shards are disjoint and cover the matrix" "shards ok" "$PYTHON" shards_check.py "${IDS[@]}"
expect_out "shard dry run agrees" "dry run:" "$BENCH" run suite.yaml --shard 2/3 --results shards --dry-run
expect_true "shard dry run: all done" grep -q "dry run: 0 jobs would run" <<<"$OUT"
expect_out "status over shards" "jobs      $N/$N done" "$BENCH" status shards

# ---- --only, --devices ----
expect_rc "--only random" 0 "$BENCH" run suite.yaml --only random --results only
expect_true "--only: 4 jobs" test "$(count_jobs only)" -eq 4
expect_true "--only: all in phase random" test -z "$(grep -L '"phase": "random"' only/jobs/*.json)"
expect_rc "--devices cpu,cpu" 0 "$BENCH" run suite.yaml --devices cpu,cpu --results two
expect_true "--devices: two workers" test "$(grep -c 'worker [0-9]* started on cpu' two/run.log)" -ge 2
expect_true "--devices: $N results" test "$(count_jobs two)" -eq $N

# ---- a report failure never loses results ----
expect_rc "report into an unwritable place" 0 "$BENCH" run suite.yaml --results ref --reports /proc/bench-no-such-dir
expect_true "report failure is a warning" grep -q "bench: warning: report not written: .*every result is kept in ref" <<<"$ERR"
expect_true "report failure logged" grep -q "warning: report not written" ref/run.log
expect_true "report: results intact" sha256sum -c --quiet ref.sha

# ---- a real allocation failure under BENCH_MEM_LIMIT (not under ASan: its shadow memory needs the address space) ----
if [ "$ASAN" != 1 ]; then
  # 16,777,216 tokens of id 0: the window's KV cache alone (2 layers x 2 x 32 floats a token,
  # 8.6 GB) is past the limit; activations go by blocks of 16,384 tokens whatever the window
  head -c 33554432 /dev/zero > data/zeros.u16.bin
  cat > big.yaml <<'EOF'
suite: big
defaults: { model: tiny, dataset: text, protocol: chunks, windows: 1, lengths: [32], seeds: [1], rope: native, cache: full, dtype: fp32 }
models: { tiny: { path: models/tiny } }
datasets: { text: { path: data/text.txt }, zeros: { path: data/zeros.u16.bin } }
rope: { native: { type: model } }
cache: { full: { type: full } }
phases:
  - id: small
  - id: huge
    dataset: zeros
    lengths: [16777216]
EOF
  expect_rc "real oom: run completes" 1 env BENCH_MEM_LIMIT=6G MALLOC_ARENA_MAX=2 "$BENCH" run big.yaml --results big
  expect_true "real oom: recorded oom" grep -q "huge .*: oom: .*out of memory" <<<"$OUT"
  expect_true "real oom: the other job ok" grep -q "small .*: ok ppl" <<<"$OUT"
  expect_err "bad BENCH_MEM_LIMIT" "BENCH_MEM_LIMIT: '12Q'" env BENCH_MEM_LIMIT=12Q "$BENCH" run big.yaml --results big
fi

# ---- nothing secret written; sanitizer reports ----
expect_true "no environment value written" test -z "$(grep -rl "$BENCH_SECRET_TEST" "$W" --exclude-dir=cache)"
expect_true "referenced variable's value not in provenance" test -z "$(grep -l "$BENCH_E2E_MODELS" ref/manifest.json ref/jobs/*.json ref/.run/*.json)"
expect_true "no sanitizer report in any run.log" test -z "$(grep -l 'Sanitizer' */run.log)"
finish
