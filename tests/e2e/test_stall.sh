# test_stall.sh — the stall limit of `bench run` (runner.h, worker_beat.h): a worker that shows no
# sign of life (no CPU time used, nothing read) for BENCH_JOB_STALL_S seconds (default 600, named in
# run.log) is killed and its job recorded crashed with the reason; a worker stopped with SIGSTOP is
# caught within a short limit; a job whose single window computes for longer than the limit is not
# (progress is the worker's heartbeat, not a finished window).
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1
unset BENCH_JOB_STALL_S

expect_rc "init-model (tiny)" 0 "$BENCH" init-model tiny --arch llama --seed 3
expect_rc "init-model (13M)" 0 "$BENCH" init-model big --arch llama --layers 4 --hidden 512 --heads 8 \
  --intermediate 1536 --vocab 512 --seed 1
word_text 9 400 > data/text.txt
suite() { one_phase_suite "$1" stall "$2" data/text.txt "$3" "$4"; }  # suite FILE MODEL_DIR LENGTH WINDOWS

# ---- the default limit is on and said ----
suite quick.yaml tiny 32 1
expect_rc "default: run" 0 "$BENCH" run quick.yaml --results d --no-report
expect_true "default: run.log names the 600 s limit" \
  grep -q "stall limit: a worker with no sign of life (CPU time or reads) for 600 s" d/run.log
expect_rc "off: run" 0 env BENCH_JOB_STALL_S=0 "$BENCH" run quick.yaml --results off --no-report
expect_true "off: run.log says so" grep -q "no stall limit (BENCH_JOB_STALL_S=0)" off/run.log
expect_err "a bad value" "BENCH_JOB_STALL_S: 'soon' is not a number of seconds" \
  env BENCH_JOB_STALL_S=soon "$BENCH" run quick.yaml --results bad

# ---- a window that computes for longer than the limit is not a stall ----
# The limit is set from this machine's speed: the one-window job is first timed with no limit (its
# length doubled until it takes a second or more), then run again under a limit of a third of that.
wall_of() { grep -o '"wall_s": [0-9.e+-]*' "$1"/jobs/*.json | grep -o '[0-9.e+-]*$'; }
len=1024
while :; do
  suite slow.yaml big $len 1
  rm -rf timed
  expect_rc "slow window: timed at length $len" 0 env BENCH_JOB_STALL_S=0 "$BENCH" run slow.yaml --results timed --no-report
  secs=$(wall_of timed)
  if awk "BEGIN { exit !(${secs:-0} >= 1) }" || [ $len -ge 8192 ]; then break; fi
  len=$((len * 2))
done
limit=$(awk "BEGIN { printf \"%.2f\", ${secs:-3} / 3 }")
expect_rc "slow window: ok under a ${limit} s limit" 0 env BENCH_JOB_STALL_S="$limit" "$BENCH" run slow.yaml --results slow --no-report
expect_true "slow window: recorded ok" grep -q '"status": "ok"' slow/jobs/*.json
expect_true "slow window: nobody killed" test -z "$(grep 'no sign of life from worker' slow/run.log)"
secs=$(wall_of slow)
expect_true "slow window: the job took longer than the limit (${secs} s > ${limit} s)" awk "BEGIN { exit !($secs > $limit) }"

# ---- a stopped worker: killed within the limit, its job recorded crashed with the reason ----
suite stopped.yaml tiny 32 40
mkdir -p stop
: > stop/run.log
( # stop every worker of the run as it starts (the job's two tries)
  seen=""
  for _ in $(seq 600); do
    for pid in $(grep -o 'worker [0-9]* started' stop/run.log 2>/dev/null | grep -o '[0-9]*'); do
      case " $seen " in *" $pid "*) ;; *) kill -STOP "$pid" 2>/dev/null && seen="$seen $pid" ;; esac
    done
    sleep 0.1
  done
) &
WATCH=$!
t0=$(date +%s)
expect_rc "stopped: the run ends (exit 1)" 1 env BENCH_JOB_STALL_S=1 BENCH_FAULT=delay:200 \
  timeout -k 5 120 "$BENCH" run stopped.yaml --results stop --no-report
t1=$(date +%s)
kill "$WATCH" 2>/dev/null
wait "$WATCH" 2>/dev/null
expect_true "stopped: recorded crashed" grep -q '"status": "crashed"' stop/jobs/*.json
expect_true "stopped: the reason" grep -q \
  "hung: no sign of life (CPU time or reads) for 1 s (BENCH_JOB_STALL_S): the worker was killed (try 2 of 2)" stop/jobs/*.json
expect_true "stopped: run.log names the worker killed" grep -q "no sign of life from worker [0-9]* for 1 s; killing it" stop/run.log
expect_true "stopped: well within the run's 40 windows of 0.2 s ($((t1 - t0)) s)" test $((t1 - t0)) -lt 30
left=""
for pid in $(grep -o 'worker [0-9]* started' stop/run.log | grep -o '[0-9]*'); do
  kill -0 "$pid" 2>/dev/null && left="$left $pid"
done
expect_true "stopped: no worker left behind ($left)" test -z "$left"
finish
