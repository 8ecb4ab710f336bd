"""llama.cpp baseline speed (through llama-cpp-python) on the project's GGUF, CPU.

Measures greedy generation on the Q4_1 GGUF as shipped and on its f32 dequantisation (the
same weights, written once next to it by llama.cpp's own quantize API with ftype ALL_F32):
prefill time of a PROMPT_TOKENS-token prompt and decode time per token over NEW_TOKENS new
tokens, median (and min) of --runs runs after one warm-up, the same protocol as
hf_baseline.py and `logitscope bench`. Prints one JSON object on stdout (progress on stderr).
Run by hand in the bench venv (scripts/bench/README.md), never in CI:

    python scripts/bench/llama_baseline.py [--threads 2] [--runs 3] [--gguf models/...gguf]
"""

import argparse
import ctypes
import json
import os
import statistics
import sys
import time
from pathlib import Path

import llama_cpp
import numpy as np

PROMPT_TOKENS = 128
NEW_TOKENS = 128
ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "assets" / "bench_prompt.txt").read_text()
DEFAULT_GGUF = ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def dequantised(gguf: Path, out_dir: Path) -> Path:
    """The f32 GGUF of `gguf` (made once, by llama.cpp's quantize with ftype ALL_F32)."""
    out = out_dir / (gguf.stem + ".F32.gguf")
    if out.exists():
        return out
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True
    params.nthread = os.cpu_count() or 1
    log(f"writing {out} (f32 dequantisation)")
    tmp = out.with_suffix(".tmp")
    rc = llama_cpp.llama_model_quantize(str(gguf).encode(), str(tmp).encode(), ctypes.byref(params))
    if rc != 0:
        sys.exit(f"llama_model_quantize failed ({rc})")
    tmp.rename(out)
    return out


def greedy(llm):
    """The most probable next token after the last eval (its logits, read in place)."""
    logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
    return int(np.argmax(logits))


def one_run(llm, ids):
    llm.reset()
    t0 = time.perf_counter()
    llm.eval(ids)
    t1 = time.perf_counter()
    nxt = greedy(llm)
    t2 = time.perf_counter()
    for _ in range(NEW_TOKENS):
        llm.eval([nxt])
        nxt = greedy(llm)
    t3 = time.perf_counter()
    return (t1 - t0) * 1e3, (t3 - t2) * 1e3 / NEW_TOKENS


def measure(path: Path, threads: int, runs: int):
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=PROMPT_TOKENS + NEW_TOKENS + 8,
                          n_batch=PROMPT_TOKENS, n_ubatch=PROMPT_TOKENS, n_threads=threads,
                          n_threads_batch=threads, logits_all=False, verbose=False)
    ids = llm.tokenize(TEXT.encode(), add_bos=False, special=False)
    while len(ids) < PROMPT_TOKENS:
        ids = ids + ids
    ids = ids[:PROMPT_TOKENS]
    one_run(llm, ids)  # warm-up
    pre, dec = [], []
    for i in range(runs):
        p, d = one_run(llm, ids)
        pre.append(p)
        dec.append(d)
        log(f"  run {i}: prefill {p:.1f} ms, decode {d:.2f} ms/token")
    return {"prefill_ms": round(statistics.median(pre), 2),
            "decode_ms_per_token": round(statistics.median(dec), 3),
            "prefill_ms_min": round(min(pre), 2),
            "decode_ms_per_token_min": round(min(dec), 3),
            "file_mb": round(path.stat().st_size / 1e6, 1),
            "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--gguf", type=Path, default=DEFAULT_GGUF)
    ap.add_argument("--f32-dir", type=Path, default=None,
                    help="where the f32 dequantisation is written (default: beside the GGUF)")
    args = ap.parse_args()
    if not args.gguf.exists():
        sys.exit(f"GGUF not found: {args.gguf} (run scripts/setup.sh first)")
    gguf = args.gguf.resolve()
    f32 = dequantised(gguf, args.f32_dir or gguf.parent)
    result = {"impl": "llama.cpp", "llama_cpp_python": llama_cpp.__version__,
              "threads": args.threads, "prompt_tokens": PROMPT_TOKENS, "new_tokens": NEW_TOKENS,
              "loadavg_1m_before": round(os.getloadavg()[0], 2)}
    log("Q4_1")
    result["q4_1"] = measure(gguf, args.threads, args.runs)
    log("f32 (dequantised)")
    result["f32"] = measure(f32, args.threads, args.runs)
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
