# test_slurm.sh — `bench submit --slurm` against a real Slurm: a one-node cluster (munged,
# slurmctld, slurmd from Debian's slurm-wlm and munge) started in a temp dir with its own ports,
# state, spool, log and pid files, and stopped at the end whatever happens. A 6-job CPU suite is
# submitted with MaxArraySize=4 (so jobs are packed), in a directory whose name holds a space; every
# job result must exist exactly once and the report step (afterany) must write the report. Then an
# array task is requeued mid-way (scontrol requeue: SIGTERM, then the task runs again): the jobs it
# had finished are not recomputed and no result is duplicated. Without root or the packages the
# test says "skipped: <reason>" and counts nothing.
# no-asan
. "$(dirname "$0")/lib.sh"

skip() {
  echo "skipped: $*"
  finish
}
[ "$(id -u)" -eq 0 ] || skip "not root (the test starts munged, slurmctld and slurmd)"
for b in munged slurmctld slurmd sbatch scontrol squeue; do
  command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || skip "'$b' not installed (make setup installs slurm-wlm and munge)"
done
id munge >/dev/null 2>&1 || skip "no 'munge' user (the munge package makes it)"

C=$(mktemp -d /tmp/bench-slurm.XXXXXX)
chmod 755 "$C"
stop_cluster() {
  if [ -s "$C/run/slurmctld.pid" ]; then  # no task outlives the test
    scancel --full $(squeue -h -o %A 2>/dev/null) 2>/dev/null
    for _ in $(seq 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
  fi
  for f in "$C/run/slurmd.pid" "$C/run/slurmctld.pid" "$C/munge/munged.pid"; do
    [ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
  done
  sleep 1
  for f in "$C/run/slurmd.pid" "$C/run/slurmctld.pid" "$C/munge/munged.pid"; do
    [ -s "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null
  done
  rm -rf "$C"
}
[ -n "${BENCH_SLURM_KEEP:-}" ] || trap stop_cluster EXIT

# ---- the cluster ----
mkdir -p "$C/munge" "$C/state" "$C/spool" "$C/log" "$C/run"
chown munge:munge "$C/munge"
chmod 755 "$C/munge"
dd if=/dev/urandom of="$C/munge/munge.key" bs=1024 count=1 status=none
chown munge:munge "$C/munge/munge.key"
chmod 400 "$C/munge/munge.key"
runuser -u munge -- /usr/sbin/munged --key-file="$C/munge/munge.key" --socket="$C/munge/munge.sock" \
  --pid-file="$C/munge/munged.pid" --log-file="$C/munge/munged.log" --seed-file="$C/munge/munged.seed" \
  || { cat "$C/munge/munged.log" 2>/dev/null; _bad "munged did not start"; finish; }
node=$(/usr/sbin/slurmd -C | head -n 1)
host=$(echo "$node" | sed -E 's/^NodeName=([^ ]+).*/\1/')
port=$((20000 + (RANDOM + $$) % 20000))
export SLURM_CONF=$C/slurm.conf
cat > "$SLURM_CONF" <<EOF
ClusterName=benchtest
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$C/munge/munge.sock
SlurmctldPort=$port
SlurmdPort=$((port + 1))
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
StateSaveLocation=$C/state
SlurmdSpoolDir=$C/spool
SlurmctldLogFile=$C/log/slurmctld.log
SlurmdLogFile=$C/log/slurmd.log
SlurmctldPidFile=$C/run/slurmctld.pid
SlurmdPidFile=$C/run/slurmd.pid
ReturnToService=2
MaxArraySize=4
$node NodeAddr=127.0.0.1
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
/usr/sbin/slurmctld -f "$SLURM_CONF" && /usr/sbin/slurmd -f "$SLURM_CONF" \
  || { tail -n 20 "$C"/log/*.log; _bad "slurmctld/slurmd did not start"; finish; }
up=0
for _ in $(seq 60); do
  sinfo -h -o %t 2>/dev/null | grep -q -E '^(idle|mix|alloc)' && { up=1; break; }
  sleep 0.5
done
[ $up -eq 1 ] || { tail -n 20 "$C"/log/*.log; _bad "the node never came up"; finish; }
_ok

# ---- a small CPU suite, in a directory whose name holds a space ----
export BENCH_CACHE_DIR=$TMP/cache
W="$TMP/work dir"
mkdir -p "$W/data"
cd "$W" || exit 1
expect_rc "init-model" 0 "$BENCH" init-model models/tiny --arch llama --seed 3
awk 'BEGIN { x = 5; for (s = 0; s < 120; s++) { line = "";
  for (i = 0; i < 8; i++) { x = (x * 1103515245 + 12345) % 2147483648; line = line "w" int(x / 65536) % 50 " "; }
  print line "." } }' > data/text.txt
cat > suite.yaml <<'EOF'
suite: cluster
title: slurm end to end
defaults: { model: tiny, dataset: text, protocol: chunks, windows: 2, lengths: [32, 64], seeds: [1],
            rope: native, cache: full, dtype: fp32 }
models:
  tiny: { path: models/tiny }
datasets:
  text: { path: data/text.txt }
rope:
  native: { type: model }
  geo: { type: geometric, theta: 500000 }
cache:
  full: { type: full }
phases:
  - id: sweep
    rope: [native, geo]
    lengths: [32, 48, 64]
EOF
N=6
"$BENCH" plan suite.yaml --json > plan.json
mapfile -t IDS < <("$PYTHON" -c 'import json; print("\n".join(sorted({j["job_id"] for j in json.load(open("plan.json"))["jobs"]})))')
expect_true "plan has $N jobs" test "${#IDS[@]}" -eq $N

wait_gone() {  # ids...: until squeue lists none of them, at most 90 s
  for _ in $(seq 180); do
    [ -z "$(squeue -h -j "$(IFS=,; echo "$*")" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  return 1
}
field() { "$PYTHON" -c 'import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print("" if v is None else v)' "$1" "$2"; }
# Checks DIR: every planned job has exactly one result, ok, and nothing else is in jobs/.
check_results() {
  local dir=$1 name=$2
  expect_true "$name: $N result files" test "$(ls "$dir/jobs" | wc -l)" -eq $N
  local missing=0
  for id in "${IDS[@]}"; do [ -f "$dir/jobs/$id.json" ] || missing=$((missing + 1)); done
  expect_true "$name: every job has its result" test $missing -eq 0
  expect_true "$name: all ok" test "$(grep -l '"status": "ok"' "$dir"/jobs/*.json | wc -l)" -eq $N
  expect_true "$name: no temp file left" test -z "$(find "$dir" -name '*.tmp.*')"
}

# ---- dry run: scripts written, nothing submitted ----
expect_out "dry run" "dry run: nothing submitted" "$BENCH" submit suite.yaml --slurm --dry-run --time 10 --partition test
expect_true "dry run: array script" test -x "results/cluster/slurm/array.sh"
expect_true "dry run: no submission" test ! -e "results/cluster/slurm/submitted.json"
expect_true "dry run: prints sbatch" grep -q "sbatch --parsable --dependency=afterany" <<<"$OUT"
expect_true "dry run: packed for MaxArraySize 4" grep -q "MaxArraySize 4" <<<"$OUT"
expect_err "no --slurm" "needs a scheduler: --slurm" "$BENCH" submit suite.yaml
expect_err "bad --time" "--time: 'soon'" "$BENCH" submit suite.yaml --slurm --time soon

# ---- the whole suite through the cluster ----
expect_out "submit" "submitted array job" "$BENCH" submit suite.yaml --slurm --time 10 --partition test
SUB=results/cluster/slurm/submitted.json
A=$(field $SUB array_job_id)
R=$(field $SUB report_job_id)
expect_true "array and report ids recorded" test -n "$A" -a -n "$R"
expect_true "shards ≤ MaxArraySize" test "$(field $SUB shards)" -le 4
expect_true "packed: some task runs several jobs" "$PYTHON" -c '
import json,sys; t=json.load(open(sys.argv[1]))["tasks"]
assert sum(len(x["jobs"]) for x in t) == 6 and max(len(x["jobs"]) for x in t) >= 2' $SUB
expect_true "array and report finished within 90 s" wait_gone "$A" "$R"
check_results results/cluster "array"
expect_true "report written" test -s reports/cluster/REPORT.md
expect_true "report step log" grep -q "wrote" results/cluster/slurm/logs/report-$R.out
expect_true "tasks wrote no report themselves" test -z "$(grep -l 'report:' results/cluster/slurm/logs/array-* 2>/dev/null)"
expect_out "status shows the array" "array $A" "$BENCH" status results/cluster
expect_true "status: tasks finished" grep -q "0 tasks queued or running" <<<"$OUT"
expect_out "resubmit: nothing left" "nothing to submit" "$BENCH" submit suite.yaml --slurm --partition test

# ---- a task killed mid-way and requeued: no job twice, finished ones kept ----
export BENCH_FAULT=delay:700   # each window 0.7 s slower: a task is still running when requeued
expect_out "submit (slow)" "submitted array job" "$BENCH" submit suite.yaml --slurm --results rq --max-parallel 1
unset BENCH_FAULT
A=$(field rq/slurm/submitted.json array_job_id)
R=$(field rq/slurm/submitted.json report_job_id)
expect_true "max-parallel in the array spec" grep -q '^#SBATCH --array=.*%1$' rq/slurm/array.sh
# The first task with two or more jobs: wait for its first result, then requeue it.
read -r T TJOBS < <("$PYTHON" -c '
import json; t=[x for x in json.load(open("rq/slurm/submitted.json"))["tasks"] if len(x["jobs"]) >= 2][0]
print(t["task"], ",".join(t["jobs"]))')
first=""
for _ in $(seq 240); do
  for id in ${TJOBS//,/ }; do [ -f "rq/jobs/$id.json" ] && first=$id; done
  [ -n "$first" ] && break
  sleep 0.25
done
expect_true "task $T finished a job before the requeue" test -n "$first"
sum_before=$(sha256sum "rq/jobs/$first.json")
scontrol requeue "${A}_$T"
expect_true "requeue accepted" test $? -eq 0
# A requeued job waits for its begin time (about two minutes); start it now.
for _ in $(seq 60); do
  squeue -h -j "${A}_$T" -o %T 2>/dev/null | grep -q PENDING && break
  sleep 0.5
done
scontrol update JobId="${A}_$T" StartTime=now >/dev/null 2>&1
expect_out "status while requeued" "task $T" "$BENCH" status rq
expect_true "requeued array and report finished within 90 s" wait_gone "$A" "$R"
check_results rq "requeue"
expect_true "the job finished before the requeue was not recomputed" sha256sum -c --quiet <<<"$sum_before"
expect_true "the task ran twice" test "$(grep -c "suite 'cluster'" rq/slurm/logs/array-${A}_$T.out)" -ge 2
expect_true "the task got SIGTERM" grep -q "SIGTERM" rq/slurm/logs/array-${A}_$T.out
expect_true "report after requeue" test -s reports/cluster/REPORT.md
cd "$ROOT" || exit 1
finish
