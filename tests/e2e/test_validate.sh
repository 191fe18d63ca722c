# test_validate.sh — `bench validate` on good and bad suites: exit codes, FILE:LINE:COL messages,
# warnings for missing paths, the one-line summary.
. "$(dirname "$0")/lib.sh"
S=$ROOT/tests/fixtures/suites
unset BENCH_SURELY_UNSET_VARIABLE

# ---- good suites ----
export BENCH_MODELS=/nonexistent/models BENCH_DATA=/nonexistent/data
expect_out "design example validates" \
  "$S/design_example.yaml: valid: 2 phases, 1 model, 1 dataset, 4 rope variants (9 with sweeps), 3 cache policies, 2 warnings" \
  "$BENCH" validate "$S/design_example.yaml"
expect_true "missing model path is a warning with its position" \
  grep -q "bench: warning: $S/design_example.yaml:16:22: model 'llama3_8b': path '/nonexistent/models/Meta-Llama-3-8B-Instruct' does not exist" <<<"$ERR"
expect_true "no error printed for a valid suite" test -z "$(grep 'bench: error' <<<"$ERR")"
unset BENCH_MODELS
expect_err "design example without BENCH_MODELS names the variable" \
  "$S/design_example.yaml:16:22: environment variable 'BENCH_MODELS' is not set" \
  "$BENCH" validate "$S/design_example.yaml"
export BENCH_MODELS=/nonexistent/models
expect_out "every feature validates" "all_features.yaml: valid: 5 phases, 2 models, 3 datasets, 15 rope variants (19 with sweeps), 4 cache policies (5 with sweeps), 1 train recipe, 6 warnings" \
  "$BENCH" validate "$S/all_features.yaml"

# existing paths: no warnings
mkdir -p "$TMP/suite/ckpt" && : >"$TMP/suite/val.txt"
cat >"$TMP/suite/ok.yaml" <<'EOF'
suite: ok
models: { m: { path: ckpt } }
datasets: { d: { path: val.txt } }
rope: { geo: { type: geometric, theta: 10000 } }
cache: { full: { type: full } }
phases: [{ id: p, model: m, dataset: d, rope: geo, cache: full, lengths: [64], seeds: [0] }]
EOF
expect_out "relative paths resolve against the suite's directory" \
  "ok.yaml: valid: 1 phase, 1 model, 1 dataset, 1 rope variant, 1 cache policy" "$BENCH" validate "$TMP/suite/ok.yaml"
expect_true "no warnings when paths exist" test -z "$ERR"

# an include entry may set the windows of the jobs it adds; an exclude entry may not
sed 's/lengths: \[64\], seeds: \[0\] }/lengths: [64], seeds: [0], include: [{ length: 128, windows: 3 }] }/' \
  "$TMP/suite/ok.yaml" >"$TMP/suite/incw.yaml"
expect_out "include sets windows" "incw.yaml: valid" "$BENCH" validate "$TMP/suite/incw.yaml"
expect_out "the included job has 3 windows" '"length":128,"seed":0,"protocol":"chunks","windows":3' \
  "$BENCH" plan "$TMP/suite/incw.yaml" --json
sed 's/include: \[{ length: 128, windows: 3 }\]/exclude: [{ length: 64, windows: 3 }]/' "$TMP/suite/incw.yaml" >"$TMP/suite/excw.yaml"
expect_err "exclude cannot name windows" "unknown key 'windows'" "$BENCH" validate "$TMP/suite/excw.yaml"
sed 's/windows: 3 }/windows: 0 }/' "$TMP/suite/incw.yaml" >"$TMP/suite/incw0.yaml"
expect_err "include windows >= 1" "'windows' must be >= 1, got 0" "$BENCH" validate "$TMP/suite/incw0.yaml"

# ---- bad suites: exit 2, FILE:LINE:COL: message ----
bad() {  # name, fixture, expected "LINE:COL: message"
  expect_err "$1" "bench: error: $S/$2:$3" "$BENCH" validate "$S/$2"
}
bad "unknown key with did-you-mean" bad_unknown_key.yaml "10:5: unknown key 'rpoe' (did you mean 'rope'?)"
bad "duplicate key" bad_duplicate_key.yaml "6:3: duplicate key 'geo' (first at 5:3)"
bad "alias" bad_alias.yaml "8:11: YAML aliases are not allowed ('*geo')"
bad "anchor" bad_anchor.yaml "4:14: YAML anchors are not allowed ('&g')"
bad "invalid UTF-8" bad_utf8.yaml "2:11: invalid UTF-8 byte 0xe9"
bad "empty file" bad_empty.yaml "1:1: the suite file is empty"
bad "top-level list" bad_toplevel_list.yaml "1:1: a suite file must be a mapping (suite:, phases:, ...), got a list"
bad "unset variable" bad_unset_var.yaml "3:14: environment variable 'BENCH_SURELY_UNSET_VARIABLE' is not set"
expect_true "an unset variable's path gives no extra warning" test -z "$(grep 'bench: warning' <<<"$ERR")"
bad "wrong type" bad_wrong_type.yaml "5:34: 'theta' must be a number, got string 'abc'"
bad "negative sink" bad_negative_sink.yaml "5:36: 'sink' must be >= 0, got -4"
bad "undefined reference" bad_undefined_ref.yaml "9:22: unknown rope variant 'geo500k' (did you mean 'geo_500k'?)"
bad "duplicate phase id" bad_duplicate_phase.yaml "10:9: duplicate phase id 'first' (first at 8:9)"
bad "unmeetable collapse table" bad_collapse_length.yaml \
  "10:14: table collapse at 16384: phase '1A' never runs length 16384 (lengths: 2048, 8192)"
bad "mix cycle" bad_mix_cycle.yaml "7:19: rope variants refer to each other in a cycle: a -> b -> a"
bad "protocol key out of place" bad_protocol_key.yaml "9:13: 'prompt' applies to protocol decode only"
run "$BENCH" validate "$S/bad_unknown_key.yaml"
expect_true "errors are sorted by position" \
  test "$(grep -o ':[0-9]*:[0-9]*: ' <<<"$(grep 'bench: error' <<<"$ERR")" | tr '\n' ' ')" = ":7:5:  :10:5:  "

# what no job of a suite could ever run is an error before it runs: a policy that evicts under a
# one-pass protocol (defaults, phase or include entry), a window past the engine's limits
cat >"$TMP/suite/never.yaml" <<'EOF'
suite: never
defaults: { model: m, dataset: d, protocol: half, windows: 4, seeds: [0], rope: geo }
models: { m: { path: ckpt } }
datasets: { d: { path: val.txt } }
rope: { geo: { type: geometric, theta: 10000 } }
cache: { full: { type: full }, sink: { type: streaming, sink: 4, recent: 60 }, h2o: { type: h2o, heavy: 8, recent: 8 } }
phases:
  - { id: one-pass, cache: [full, sink], lengths: [64, 2000000000000] }
  - { id: dec, protocol: decode, prompt: 8, cache: [full, h2o], lengths: [64] }
  - id: inc
    cache: [full]
    lengths: [64]
    windows: 2000000
    include: [{ cache: h2o, length: 4000000000000 }]
EOF
run "$BENCH" validate "$TMP/suite/never.yaml"
expect_true "never-runnable suite exits 2" test "$RC" -eq 2
expect_true "streaming under half names the node" grep -qF \
  "never.yaml:8:35: cache policy 'sink' (streaming) needs protocol 'decode', but phase 'one-pass' uses protocol 'half'" <<<"$ERR"
expect_true "a length past the engine's longest window" grep -qF \
  "never.yaml:8:56: length 2000000000000 is longer than the engine's longest window (1099511627776 tokens)" <<<"$ERR"
expect_true "windows past the engine's limit" grep -qF \
  "never.yaml:13:14: 'windows' 2000000 is more than the engine evaluates in one job (1048576)" <<<"$ERR"
expect_true "an include entry's policy" grep -qF "never.yaml:14:24: cache policy 'h2o' (h2o) needs protocol 'decode'" <<<"$ERR"
expect_true "an include entry's length" grep -qF "never.yaml:14:37: length 4000000000000 is longer" <<<"$ERR"
expect_true "the decode phase is fine" bash -c '! grep -q "phase .dec." <<<"$1"' _ "$ERR"
expect_err "plan refuses it too" "needs protocol 'decode'" "$BENCH" plan "$TMP/suite/never.yaml"
# a checkpoint whose rope_scaling the engine cannot build, run with its own RoPE: an error at the
# model's entry where the checkpoint is present, the missing-path warning where it is not
expect_rc "init-model with an unknown rope type" 0 \
  "$BENCH" init-model "$TMP/suite/foo_rope" --arch llama --rope-scaling '{"rope_type":"foo","factor":2}'
cat >"$TMP/suite/own_rope.yaml" <<'EOF'
suite: own_rope
models: { m: { path: foo_rope } }
datasets: { d: { path: val.txt } }
rope: { native: { type: model }, geo: { type: geometric, theta: 10000 } }
cache: { full: { type: full } }
phases: [{ id: p, model: m, dataset: d, rope: [native], cache: full, lengths: [64], seeds: [0] }]
EOF
expect_err "an unknown rope_scaling type at the model's entry" \
  "own_rope.yaml:2:11: model 'm' ($TMP/suite/foo_rope/config.json): rope variant 'model': checkpoint rope type 'foo' is not supported" \
  "$BENCH" validate "$TMP/suite/own_rope.yaml"
sed 's/rope: \[native\]/rope: [geo]/' "$TMP/suite/own_rope.yaml" >"$TMP/suite/geo_rope.yaml"
expect_out "the checkpoint's rope_scaling unused: valid" "valid: 1 phase" "$BENCH" validate "$TMP/suite/geo_rope.yaml"
sed 's#path: foo_rope#path: elsewhere/foo_rope#' "$TMP/suite/own_rope.yaml" >"$TMP/suite/away.yaml"
expect_out "checked away from its model: valid" "valid: 1 phase" "$BENCH" validate "$TMP/suite/away.yaml"
expect_true "... with the missing path as a warning" grep -q "warning: .*away.yaml:2:22: model 'm': path .* does not exist" <<<"$ERR"

# generated at test time: 10,000-deep nesting (flow and block), a file too large, a directory
{ printf 'suite: deep\nx: '; head -c 10000 /dev/zero | tr '\0' '['; head -c 10000 /dev/zero | tr '\0' ']'; echo; } >"$TMP/deep.yaml"
expect_err "10,000-deep flow nesting" "$TMP/deep.yaml:2:67: nesting deeper than 64 levels" "$BENCH" validate "$TMP/deep.yaml"
{ for _ in $(seq 10000); do printf -- '- '; done; echo x; } >"$TMP/deep_block.yaml"
expect_err "10,000-deep block nesting" "$TMP/deep_block.yaml:1:129: nesting deeper than 64 levels" \
  "$BENCH" validate "$TMP/deep_block.yaml"
head -c 2000000 /dev/zero | tr '\0' '#' >"$TMP/large.yaml"
expect_err "file too large" "'$TMP/large.yaml' is too large (2000000 bytes, limit 1048576)" \
  "$BENCH" validate "$TMP/large.yaml"
expect_err "a directory" "is a directory, not a regular file" "$BENCH" validate "$TMP/suite"
expect_err "missing file" "cannot open '$TMP/none.yaml'" "$BENCH" validate "$TMP/none.yaml"

# usage
expect_rc "no argument is a usage error" 2 "$BENCH" validate
expect_rc "two arguments are a usage error" 2 "$BENCH" validate "$S/design_example.yaml" extra
expect_err "unknown option" "unknown option '--json'" "$BENCH" validate --json
finish
