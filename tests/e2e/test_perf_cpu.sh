# test_perf_cpu.sh — `make bench-cpu`'s table script end to end on a tiny checkpoint, without the
# peers' venv (their rows then say why they are empty): the table, its ceilings and the bench rows
# (windows, decode, attention alone), and CPU.md written with the machine named; and the load
# benchmark's usage error.
# no-asan (bench_gpu is built in the release tree only)
. "$(dirname "$0")/lib.sh"

cd "$ROOT" || exit 1
expect_true "bench_gpu is built" test -x build/release/bench_gpu
run python3 benchmarks/bench_cpu_table.py --tiny --windows 64,128 --decode-prompt 16 --decode-steps 8 \
  --threads 1 --venv "$TMP/no-venv" --work "$TMP/work" --out "$TMP/CPU.md"
expect_true "exit 0 (${ERR: -300})" test "$RC" -eq 0
expect_true "CPU.md written" test -s "$TMP/CPU.md"
expect_true "the machine is named" grep -q "^Machine: $(hostname)," "$TMP/CPU.md"
expect_true "ceilings measured" grep -qE "sgemm [0-9.]+ GFLOP/s .* copy [0-9.]+ GB/s" "$TMP/CPU.md"
for m in "window 64" "window 128" "decode (prompt 16, 8 steps)"; do
  expect_true "$m: bench has tokens/s and RSS" grep -qE "^\| $(sed 's/[()]/\\&/g' <<<"$m") \| bench \| [0-9.]+ \|.*\| [0-9]+ \| ([0-9.]+|—) \|$" "$TMP/CPU.md"
  expect_true "$m: transformers says why it is empty" grep -qF "| $m | transformers | — | | | | | | $TMP/no-venv missing" "$TMP/CPU.md"
done
expect_true "decode row has GB/s and its fraction of the copy bandwidth" \
  grep -qE "^\| decode .* \| bench \| [0-9.]+ \| +\| +\| [0-9.]+ \| [0-9.]+ \|" "$TMP/CPU.md"
expect_true "window row has GFLOP/s and its fraction of the sgemm peak" \
  grep -qE "^\| window 128 \| bench \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| +\| +\|" "$TMP/CPU.md"
for T in 64 128; do
  expect_true "attention alone at $T: bench has GFLOP/s at its widest vector width" \
    grep -qE "^\| attention alone, $T causal tokens \| bench \| — \| [0-9.]+ \| [0-9.]+ \| .*cpu fp32, $(grep -q avx512f /proc/cpuinfo && echo 16 || echo 8) lanes" "$TMP/CPU.md"
  expect_true "attention alone at $T: transformers says why it is empty" \
    grep -qF "| attention alone, $T causal tokens | transformers | — | | | | | | $TMP/no-venv missing" "$TMP/CPU.md"
done
expect_true "no attention row for llama.cpp" test "$(grep -c '^| attention alone.*llama.cpp' "$TMP/CPU.md")" -eq 0
run python3 benchmarks/bench_cpu_table.py --tiny --windows 64 --parts attention --threads 1 \
  --venv "$TMP/no-venv" --work "$TMP/work" --out "$TMP/ATT.md"
expect_true "--parts attention: exit 0 (${ERR: -300})" test "$RC" -eq 0
expect_true "--parts attention: only the attention rows" \
  test "$(grep -c '^| attention alone' "$TMP/ATT.md"):$(grep -c '^| \(window\|decode\)' "$TMP/ATT.md")" = 2:0
expect_err "bench_cpu_table: bad parts" "--parts 'x'" python3 benchmarks/bench_cpu_table.py --parts x
expect_err "bench_cpu_table: bad windows" "--windows 'x'" python3 benchmarks/bench_cpu_table.py --windows x
expect_err "bench_load: unknown option" "unknown option '--bogus'" benchmarks/bench_load.sh --bogus
finish
