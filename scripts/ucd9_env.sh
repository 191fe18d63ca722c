#!/usr/bin/env bash
# ucd9_env.sh — builds a Python environment holding `unicodedata2` 9.0.0, the Unicode data release
# that Hugging Face `tokenizers` uses for NFC/NFD (its normalization crate carries Unicode 9.0.0
# tables). scripts/gen_unicode_nfc_table.py needs it to regenerate engine/tokenizer/unicode_nfc_table.h.
#
# usage: scripts/ucd9_env.sh [DIR]          (default DIR: build/ucd9; prints the python to use)
# The 9.0.0 source predates Python 3.10, so two lines are adapted before building: the location of
# ucnhash.h (now an internal CPython header) and the Py_TYPE assignment (now Py_SET_TYPE).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/ucd9}
if [ -x "$dir/bin/python" ] && "$dir/bin/python" -c 'import unicodedata2, tokenizers' 2>/dev/null; then
  echo "$dir/bin/python"
  exit 0
fi
python3 -m venv "$dir"
"$dir/bin/pip" install -q --disable-pip-version-check tokenizers
src=$(mktemp -d)
"$dir/bin/pip" download -q --disable-pip-version-check --no-deps --no-binary :all: \
  unicodedata2==9.0.0.post4 -d "$src"
tar xzf "$src"/unicodedata2-9.0.0.post4.tar.gz -C "$src"
pkg=$src/unicodedata2-9.0.0.post4
inc=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
if [ -f "$inc/internal/pycore_ucnhash.h" ]; then
  printf '#define Py_BUILD_CORE 1\n#include "internal/pycore_ucnhash.h"\n' > "$pkg/unicodedata2/py3/ucnhash.h"
fi
sed -i 's/    Py_TYPE(&UCD_Type) = &PyType_Type;/    Py_SET_TYPE(\&UCD_Type, \&PyType_Type);/' \
  "$pkg/unicodedata2/py3/unicodedata.c"
"$dir/bin/pip" install -q --disable-pip-version-check "$pkg"
rm -rf "$src"
"$dir/bin/python" -c 'import unicodedata2; assert unicodedata2.unidata_version == "9.0.0"'
echo "$dir/bin/python"
