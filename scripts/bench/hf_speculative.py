"""HF transformers baseline for `logitscope bench --speculative`: greedy decoding with and
without prompt lookup (assisted generation, `prompt_lookup_num_tokens`) on the same three
prompts (assets/speculative/*.txt), CPU, float32, the project's GGUF.

Prints one JSON line per prompt: plain and prompt-lookup tokens/s (median of --runs after a
warm-up) and their ratio. transformers 4.55.4 is the last release with prompt lookup, draft
models, contrastive search and DoLa all inside `generate`; run by hand in a venv with
`torch==2.13.0 transformers==4.55.4 gguf==0.19.0 accelerate==1.15.0`, never in CI:

    python scripts/bench/hf_speculative.py [--threads 2] [--runs 3] [--tokens 64] [--ngram 3] [--gamma 4]
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "golden"))
import common  # noqa: E402
import torch  # noqa: E402

TEXTS = ["prose", "code", "repetitive"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--ngram", type=int, default=3)
    ap.add_argument("--gamma", type=int, default=4)
    ap.add_argument("--gguf", default=str(common.DEFAULT_GGUF))
    a = ap.parse_args()
    common.setup(a.threads)
    # transformers 4.55 names the dtype argument `torch_dtype` (common.py uses 4.56's `dtype`).
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = Path(a.gguf)
    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, torch_dtype=torch.float32,
        attn_implementation="eager",
    ).eval()
    for name in TEXTS:
        text = (common.REPO_ROOT / "assets" / "speculative" / f"{name}.txt").read_text().rstrip()
        ids = torch.tensor([common.encode(tok, text)])

        def run(**kw):
            with torch.inference_mode():
                t0 = time.perf_counter()
                out = model.generate(
                    ids, max_new_tokens=a.tokens, min_new_tokens=a.tokens, do_sample=False, **kw
                )
                dt = time.perf_counter() - t0
            return (out.shape[1] - ids.shape[1]) / dt, out[0, ids.shape[1]:].tolist()

        lookup = dict(prompt_lookup_num_tokens=a.gamma, max_matching_ngram_size=a.ngram)
        run()
        run(**lookup)
        plain, spec = [], []
        for _ in range(a.runs):
            plain.append(run())
            spec.append(run(**lookup))
        p = statistics.median(x for x, _ in plain)
        s = statistics.median(x for x, _ in spec)
        print(json.dumps({
            "bench": "hf_speculative", "text": name, "draft": f"ngram:{a.ngram}",
            "gamma": a.gamma, "tokens": a.tokens,
            "plain_tokens_per_s": p, "tokens_per_s": s, "speedup": s / p,
            "same_tokens": plain[0][1] == spec[0][1],
            "transformers": __import__("transformers").__version__,
        }), flush=True)


if __name__ == "__main__":
    main()
