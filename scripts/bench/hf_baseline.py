"""HF transformers baseline speed on the project's GGUF (SmolLM2-135M-Instruct), CPU.

Loads the GGUF through transformers (de-quantized), then for float32 and bfloat16 measures
greedy generation with the KV cache: prefill time of a PROMPT_TOKENS-token prompt and decode
time per token over NEW_TOKENS new tokens, median (and min) of --runs runs after one warm-up;
the 1-minute load average is recorded because other processes on the machine skew it.
Prints one JSON object on stdout (progress goes to stderr). Run by hand in the golden venv
(see scripts/golden/README.md), never in CI:

    python scripts/bench/hf_baseline.py [--threads 2] [--runs 3] [--gguf models/...gguf]
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

# Shared loading code (offline environment, pinned model) lives with the fixture scripts.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
import common  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import DynamicCache  # noqa: E402

PROMPT_TOKENS = 128
NEW_TOKENS = 128
TEXT = (
    "The history of computing is a story of ideas that took decades to become practical. "
    "Mechanical calculators gave way to electromechanical relays, then to vacuum tubes, "
    "transistors and integrated circuits. Each step made machines smaller, faster and cheaper, "
    "and each step changed who could use them and for what. Early programmers wrote in machine "
    "code; later, assemblers, compilers and interpreters let people describe what they wanted "
    "instead of how the hardware should do it. Networks connected the machines, and the web "
    "connected the people who used them. Today, language models predict text one token at a "
    "time, and the way those predictions are turned into words matters as much as the model. "
)


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def one_run(model, x):
    with torch.inference_mode():
        cache = DynamicCache()
        t0 = time.perf_counter()
        out = model(x, past_key_values=cache, use_cache=True)
        t1 = time.perf_counter()
        nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        cache = out.past_key_values
        t2 = time.perf_counter()
        for _ in range(NEW_TOKENS):
            out = model(nxt, past_key_values=cache, use_cache=True)
            cache = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
        t3 = time.perf_counter()
    return (t1 - t0) * 1e3, (t3 - t2) * 1e3 / NEW_TOKENS


def measure(model, x, runs):
    one_run(model, x)  # warm-up
    pre, dec = [], []
    for i in range(runs):
        p, d = one_run(model, x)
        pre.append(p)
        dec.append(d)
        log(f"  run {i}: prefill {p:.1f} ms, decode {d:.2f} ms/token")
    return {"prefill_ms": round(statistics.median(pre), 2),
            "decode_ms_per_token": round(statistics.median(dec), 3),
            "prefill_ms_min": round(min(pre), 2),
            "decode_ms_per_token_min": round(min(dec), 3),
            "runs": runs}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--gguf", type=Path, default=common.DEFAULT_GGUF)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    if not args.gguf.exists():
        sys.exit(f"GGUF not found: {args.gguf} (run scripts/setup.sh first)")

    tok, model = common.load_smollm2(args.gguf, torch.float32)
    ids = common.encode(tok, TEXT * 4)[:PROMPT_TOKENS]
    assert len(ids) == PROMPT_TOKENS
    x = torch.tensor([ids])

    result = {"impl": "hf-transformers", "threads": args.threads, "prompt_tokens": PROMPT_TOKENS,
              "new_tokens": NEW_TOKENS, "attn_implementation": "eager", "kv_cache": True,
              "torch": torch.__version__, "transformers": transformers.__version__}
    result["loadavg_1m_before"] = round(os.getloadavg()[0], 2)
    log("float32")
    result["f32"] = measure(model, x, args.runs)
    model = model.to(torch.bfloat16)
    log("bfloat16")
    result["bf16"] = measure(model, x, args.runs)
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)  # > threads: other work interfered
    print(json.dumps(result))


if __name__ == "__main__":
    main()
