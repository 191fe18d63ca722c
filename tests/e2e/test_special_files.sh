# test_special_files.sh — a FIFO, a directory or a device where bench expects a file never blocks:
# config.json, a safetensors shard, tokenizer.json, a dataset, jobs/<id>.json, run.log, manifest.json
# and the results' suite.yaml, each replaced by a FIFO (nobody writes it: opening it to read would
# wait forever), under `inspect`, `plan`, `run`, `status`, `report` and `compare`. Every command runs
# under `timeout`, so a hang fails the test instead of blocking it, and where the file is read the
# error or warning names it: "'PATH' is a FIFO, not a regular file".
. "$(dirname "$0")/lib.sh"

export BENCH_CACHE_DIR=$TMP/cache
W=$TMP/work
mkdir -p "$W/data"
cd "$W" || exit 1
LIMIT=${BENCH_TEST_HANG_S:-30}  # seconds after which a command counts as blocked

expect_rc "init-model" 0 "$BENCH" init-model m --arch llama --seed 3
word_text 5 40 > data/text.txt
one_phase_suite suite.yaml special m data/text.txt 32 1
expect_rc "a first run" 0 "$BENCH" run suite.yaml --results r --no-report
ID=$(basename "$(ls r/jobs/*.json | head -1)" .json)

# within NAME WANT CMD...: CMD ends within LIMIT seconds, and (WANT non-empty) its stdout, stderr
# or the run's run.log name the FIFO as such.
within() {
  local name=$1 want=$2; shift 2
  run timeout -k 5 "$LIMIT" "$@"
  if [ "$RC" -eq 124 ]; then _bad "$name: still blocked after $LIMIT s"; return; fi
  _ok
  [ -z "$want" ] && return
  local all="$OUT $ERR $(cat r2/run.log 2>/dev/null)"
  if [[ "$all" == *"$want"* ]]; then _ok; else _bad "$name: '$want' not said; stdout '${OUT:0:300}' stderr '${ERR:0:300}'"; fi
}

# as_fifo PATH: PATH becomes a FIFO (the file kept aside); restore PATH puts the file back.
as_fifo() { mv "$1" "$1.kept" && mkfifo "$1"; }
restore() { rm -rf "$1" && mv "$1.kept" "$1"; }

for f in m/config.json m/model.safetensors; do
  as_fifo "$f"
  said="'$f' is a FIFO, not a regular file"
  within "$f: inspect" "$said" "$BENCH" inspect m
  expect_true "$f: inspect exits 2 (got $RC)" test "$RC" -eq 2
  within "$f: plan" "$said" "$BENCH" plan suite.yaml
  within "$f: run" "$said" "$BENCH" run suite.yaml --results r2 --no-report
  expect_true "$f: run exits 1 (got $RC)" test "$RC" -eq 1
  rm -rf r2
  restore "$f"
done

as_fifo m/tokenizer.json
said="'m/tokenizer.json' is a FIFO, not a regular file"
within "tokenizer: inspect" "" "$BENCH" inspect m
within "tokenizer: plan" "$said" "$BENCH" plan suite.yaml
within "tokenizer: run" "$said" "$BENCH" run suite.yaml --results r2 --no-report
rm -rf r2
restore m/tokenizer.json

as_fifo data/text.txt
said="'data/text.txt' is a FIFO, not a regular file"
within "dataset: plan" "$said" "$BENCH" plan suite.yaml
within "dataset: run" "$said" "$BENCH" run suite.yaml --results r2 --no-report
rm -rf r2
restore data/text.txt

# the results directory: a stored job result, the run's log, manifest and suite copy
cp -r r r0
as_fifo "r/jobs/$ID.json"
said="'r/jobs/$ID.json' is a FIFO, not a regular file"
within "job result: status" "$said" "$BENCH" status r
within "job result: report" "$said" "$BENCH" report r --reports rep
within "job result: compare" "$said" "$BENCH" compare r0 r
within "job result: run" "" "$BENCH" run suite.yaml --results r --no-report
expect_true "job result: the run recomputed it" grep -q '"status": "ok"' "r/jobs/$ID.json"
rm -f "r/jobs/$ID.json.kept"

for f in r/run.log r/manifest.json r/suite.yaml; do
  as_fifo "$f"
  within "$f: status" "" "$BENCH" status r
  within "$f: report" "" "$BENCH" report r --reports rep
  within "$f: compare" "" "$BENCH" compare r0 r
  within "$f: run" "" "$BENCH" run suite.yaml --results r --no-report
  restore "$f"
done
run timeout "$LIMIT" "$BENCH" run suite.yaml --results r --no-report --fresh
mv r/run.log r/run.log.kept && mkfifo r/run.log
within "run.log: run refuses it" "'r/run.log' is a FIFO, not a regular file" \
  "$BENCH" run suite.yaml --results r --no-report --fresh
restore r/run.log

# a directory and a character device where a file is expected
mv m/config.json m/config.json.kept && mkdir m/config.json
within "directory config.json: inspect" "'m/config.json' is a directory, not a regular file" "$BENCH" inspect m
rmdir m/config.json && mv m/config.json.kept m/config.json
mv m/tokenizer.json m/tokenizer.json.kept && ln -s /dev/zero m/tokenizer.json
within "device tokenizer.json: plan" "'m/tokenizer.json' is a character device, not a regular file" \
  "$BENCH" plan suite.yaml
restore m/tokenizer.json
finish
