#!/usr/bin/env bash
# The reference for token counts: llama.cpp's own llama-server and llama-tokenize, built
# from the llama.cpp source that the llama-cpp-python sdist on PyPI vendors, plus that
# source's vocab-only GGUFs and official chat templates (tests/reference/ uses them).
#
#   bash .ci/llama_cpp.sh        # prints the cache folder (its last and only stdout line)
#
# The cache folder, ${TOKEN_BUDGET_LLAMA_CPP:-$HOME/.cache/token-budget/llama.cpp/<version>}:
#   bin/llama-server, bin/llama-tokenize   statically linked against llama/ggml
#   vocab/ggml-vocab-*.gguf                vendor/llama.cpp/models/ (vocab only, no weights)
#   vocab/ggml-vocab-*.gguf.inp, .out      llama.cpp's tokenizer test strings, and the ids
#                                          Hugging Face's tokenizer gives them (no specials)
#   templates/*.jinja                      vendor/llama.cpp/models/templates/
#   COMPLETE                               written last: layout, sdist, llama.cpp commit, flags
# A complete cache is used as it is (no download, no build): the script is idempotent and
# cheap to call. A cold run downloads ~77 MB and compiles for about 10 minutes on 2 cores.
#
# Needs: python3 with pip (or $PYTHON), cmake >= 3.18, a C++17 compiler, make or ninja.
# Nothing here is ever committed: the binaries are built on each machine.
set -euo pipefail

# Pinned so that the reference (and so the expected token counts) does not move under the
# tests: llama-cpp-python 0.3.36 vendors llama.cpp at the commit recorded in COMPLETE.
# To try another release: LLAMA_CPP_PYTHON_VERSION=0.3.x bash .ci/llama_cpp.sh (no hash
# check then; give it its own TOKEN_BUDGET_LLAMA_CPP or the default per-version folder).
PINNED_VERSION=0.3.36
PINNED_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
VERSION="${LLAMA_CPP_PYTHON_VERSION:-$PINNED_VERSION}"
CACHE="${TOKEN_BUDGET_LLAMA_CPP:-$HOME/.cache/token-budget/llama.cpp/$VERSION}"
# What the cache holds and how (bump when that changes: older caches are then rebuilt).
LAYOUT=1
PYTHON="${PYTHON:-python3}"
JOBS="${LLAMA_CPP_JOBS:-2}"

say() { echo "llama_cpp.sh: $*" >&2; }

complete() {
  [ -f "$CACHE/COMPLETE" ] && grep -qx "layout=$LAYOUT" "$CACHE/COMPLETE" \
    && [ -x "$CACHE/bin/llama-server" ] \
    && [ -x "$CACHE/bin/llama-tokenize" ] \
    && compgen -G "$CACHE/vocab/ggml-vocab-*.gguf" >/dev/null \
    && compgen -G "$CACHE/templates/*.jinja" >/dev/null
}

if complete; then
  echo "$CACHE"
  exit 0
fi

for tool in cmake c++ tar; do
  command -v "$tool" >/dev/null 2>&1 \
    || { say "needs $tool to build (Debian: apt-get install cmake g++ ninja-build)"; exit 1; }
done
"$PYTHON" -m pip --version >/dev/null 2>&1 || { say "needs pip for $PYTHON"; exit 1; }

mkdir -p "$CACHE"
# One build at a time per cache folder (two test runs, or CI and a test, may race).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$CACHE/.lock"
  flock 9
  if complete; then
    echo "$CACHE"
    exit 0
  fi
fi

start=$(date +%s)
work="$(mktemp -d "${TMPDIR:-/tmp}/token-budget-llama-cpp.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# (a) the sdist, from PyPI through pip (no wheel: the source is the point).
say "downloading the llama-cpp-python $VERSION sdist"
if [ "$VERSION" = "$PINNED_VERSION" ]; then
  echo "llama-cpp-python==$VERSION --hash=sha256:$PINNED_SHA256" >"$work/requirements.txt"
  "$PYTHON" -m pip download -q --no-deps --no-binary :all: --require-hashes \
    -r "$work/requirements.txt" -d "$work/dl" >&2
else
  "$PYTHON" -m pip download -q --no-deps --no-binary :all: \
    "llama-cpp-python==$VERSION" -d "$work/dl" >&2
fi
sdist="$(ls "$work"/dl/llama_cpp_python-*.tar.gz)"

# (b) only its vendored llama.cpp.
say "extracting $(basename "$sdist")"
top="$(basename "$sdist" .tar.gz)"
tar -xzf "$sdist" -C "$work" --no-same-owner "$top/vendor/llama.cpp"
src="$work/$top/vendor/llama.cpp"
# The sdist keeps the submodule's git folder; its HEAD names the llama.cpp commit.
commit="$(tar -xzOf "$sdist" "$top/.git/modules/vendor/llama.cpp/HEAD" 2>/dev/null || true)"
[[ "$commit" =~ ^[0-9a-f]{40}$ ]] || commit=unknown

# (c) llama-server and llama-tokenize only, Release, CPU only, no network at build or run
# time: no curl/OpenSSL (no model downloads), no web UI (neither npm nor its prebuilt
# download), no tests/examples, static llama/ggml so bin/ needs no .so beside it.
flags=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DLLAMA_CURL=OFF
  -DLLAMA_OPENSSL=OFF
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_APP=OFF
  -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF
  -DLLAMA_LLGUIDANCE=OFF
  -DGGML_NATIVE=OFF
  -DGGML_OPENMP=OFF
  "-DLLAMA_BUILD_COMMIT=${commit:0:8}"
)
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
say "configuring llama.cpp $commit"
cmake -S "$src" -B "$work/build" "${generator[@]}" "${flags[@]}" >"$work/configure.log" 2>&1 \
  || { cat "$work/configure.log" >&2; exit 1; }
say "building llama-server and llama-tokenize with $JOBS jobs (about 10 minutes cold)"
cmake --build "$work/build" --config Release -j "$JOBS" --target llama-server llama-tokenize \
  >"$work/build.log" 2>&1 || { tail -n 60 "$work/build.log" >&2; exit 1; }

# (d) into the cache: staged beside it, then moved in; COMPLETE last.
stage="$CACHE/.stage"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/vocab" "$stage/templates"
install -m 0755 "$work/build/bin/llama-server" "$work/build/bin/llama-tokenize" "$stage/bin/"
cp "$src"/models/ggml-vocab-*.gguf "$src"/models/ggml-vocab-*.gguf.inp \
  "$src"/models/ggml-vocab-*.gguf.out "$stage/vocab/"
cp "$src"/models/templates/*.jinja "$stage/templates/"
"$stage/bin/llama-server" --version >"$stage/version.txt" 2>&1 || true
rm -f "$CACHE/COMPLETE"
for d in bin vocab templates; do
  rm -rf "${CACHE:?}/$d"
  mv "$stage/$d" "$CACHE/$d"
done
mv "$stage/version.txt" "$CACHE/version.txt"
rm -rf "$stage"
{
  echo "layout=$LAYOUT"
  echo "sdist=llama-cpp-python $VERSION"
  echo "llama.cpp=$commit"
  echo "cmake=${flags[*]}"
  echo "built=$(date -u +%Y-%m-%dT%H:%M:%SZ) in $(( $(date +%s) - start ))s"
} >"$CACHE/COMPLETE"
say "done in $(( $(date +%s) - start ))s"
echo "$CACHE"
