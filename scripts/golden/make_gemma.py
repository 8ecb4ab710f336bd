"""Gemma 3 270M (base) parity fixture: tokenisation probes, last-position top-20 logprobs,
teacher-forced logprobs and the greedy 32-token continuation, from HF transformers' GGUF
loader (float32, eager attention). One prompt is longer than the 512-token sliding window,
so the sliding layers' mask matters.

Writes tests/fixtures/gemma3_parity.json.
Usage: python scripts/golden/make_gemma.py [path/to/gemma-3-270m-q4_k_m.gguf]
(run scripts/setup.sh --model gemma3-270m first; transformers 4.55.4 or 4.56.2)
"""

import json
import sys
from pathlib import Path

import common
import torch

DEFAULT = common.REPO_ROOT / "models" / "gemma-3-270m-q4_k_m.gguf"
MODEL_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
WINDOW = 512
# The play's first 1,400 characters: ~640 tokens, past the sliding window (the cast list
# tokenises densely), short enough to keep the Rust test's all-position logits small.
LONG_TEXT = (common.REPO_ROOT / "assets" / "macbeth.txt").read_text(encoding="utf-8")[:1400]

PROMPTS = [
    ("prose", "The capital of France is"),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return"),
    ("digits", "12345 + 67890 ="),
    ("cjk", "东京是日本的首都，北京是"),
    ("emoji", "I love pizza 🍕 and coffee ☕ because"),
    ("leading_spaces", "   indented"),
    ("whitespace", "Line one\n\n\tTabbed line two\r\nend  of  text"),
    ("turn_markers", "<start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\n"),
    ("long_past_window", LONG_TEXT),
]

TOKENIZER_PROBES = [
    "1234567890", " 2024", "x1y22z333", "3rd 4th 10,000.50", "٣٤٥ ½ ² ①",
    "  two  spaces   three", "tab\tnew\nline\r\n", "\n\n\n", "don't you'll I'M", "a\u00a0b",
    "😀😀 👍🏽", "<bos>inside<eos>", "<start_of_turn><end_of_turn>", "<unused0>", "日本語のテキスト",
    "Ünïcödé", "$%&@#!?", "http://example.com/path?q=1&r=2", "    def f(x):\n        return x**2",
    " ", "", "\u200b\ufeff", "\x00\x01 control", "Ελληνικά и русский", "▁already▁metaspace",
]

GREEDY_NEW = 32
TOP = 20
NEAR_TIE = 1e-3


def load(path: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    digest = common.sha256(path.resolve())
    if digest != MODEL_SHA256:
        print(f"warning: GGUF sha256 {digest} differs from the pinned {MODEL_SHA256}", file=sys.stderr)
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, attn_implementation="eager",
        **common.dtype_kwarg(torch.float32),
    )
    model.eval()
    assert model.config._attn_implementation == "eager"
    assert model.config.sliding_window == WINDOW, model.config.sliding_window
    return tok, model


def main():
    common.setup(threads=1)
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    if not path.exists():
        sys.exit(f"GGUF not found: {path} (run scripts/setup.sh --model gemma3-270m first)")
    tok, model = load(path)
    backend = json.loads(tok.backend_tokenizer.to_str())
    gen_cfg = {
        "do_sample": False,
        "max_new_tokens": GREEDY_NEW,
        "eos_token_id": model.generation_config.eos_token_id,
        "pad_token_id": model.generation_config.pad_token_id,
        "use_cache": True,
    }
    cases = []
    for name, prompt in PROMPTS:
        ids = tok(prompt).input_ids  # the GGUF asks for a BOS, and HF adds it
        x = torch.tensor([ids])
        with torch.inference_mode():
            logits = model(x, use_cache=False).logits[0]
        lp = common.log_softmax64(logits)
        top = torch.topk(lp[-1], TOP)
        tf = [common.r(lp[i - 1, ids[i]]) for i in range(1, len(ids))]
        with torch.inference_mode():
            out = model.generate(
                x, attention_mask=torch.ones_like(x), output_logits=True,
                return_dict_in_generate=True, **gen_cfg,
            )
        new = out.sequences[0, len(ids):].tolist()
        margins = []
        for step, lg in enumerate(out.logits):
            slp = common.log_softmax64(lg[0])
            t2 = torch.topk(slp, 2)
            assert int(t2.indices[0]) == new[step] or float(t2.values[0] - t2.values[1]) < 1e-5, (name, step)
            margins.append(common.r(t2.values[0] - t2.values[1], 6))
        eos = gen_cfg["eos_token_id"]
        eos = eos if isinstance(eos, list) else [eos]
        cases.append({
            "name": name,
            "prompt": prompt,
            "ids": ids,
            "last_top20": [[int(i), common.r(v)] for v, i in zip(top.values, top.indices)],
            "teacher_forced": tf,
            "greedy32": new,
            "greedy32_text": tok.decode(new, skip_special_tokens=False),
            "greedy32_margin": margins,
            "greedy32_near_ties": [i for i, m in enumerate(margins) if m < NEAR_TIE],
            "greedy32_stopped_at_eos": len(new) > 0 and new[-1] in eos,
        })
        print(f"{name:17s} ids={len(ids):4d} greedy={len(new)} min_margin={min(margins):.4g} -> {tok.decode(new)!r}")
    assert len(cases[-1]["ids"]) > WINDOW + 64, len(cases[-1]["ids"])

    probes = []
    for s in TOKENIZER_PROBES:
        ids = tok(s).input_ids
        probes.append({"text": s, "hf_ids": ids, "hf_decoded": tok.decode(ids, skip_special_tokens=False)})

    summary = {
        "class": type(tok).__name__,
        "model": {k: v for k, v in backend["model"].items() if k != "vocab"},
        "vocab_size": len(backend["model"]["vocab"]),
        "normalizer": backend["normalizer"],
        "pre_tokenizer": backend["pre_tokenizer"],
        "post_processor": backend["post_processor"],
        "decoder": backend["decoder"],
        "added_tokens": [[a["id"], a["content"], a["special"]] for a in backend["added_tokens"]],
        "renamed_pieces": {
            str(i): p for i, (p, _) in enumerate(backend["model"]["vocab"])
            if p == "\t" or (p and set(p) == {"▁"} and i < 1000)
        },
    }
    keys = ("num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
            "num_key_value_heads", "head_dim", "rope_theta", "rope_local_base_freq", "rms_norm_eps",
            "vocab_size", "sliding_window", "layer_types", "query_pre_attn_scalar",
            "final_logit_softcapping", "attn_logit_softcapping", "rope_scaling", "bos_token_id",
            "eos_token_id", "pad_token_id", "max_position_embeddings", "hidden_activation")
    meta = common.provenance({
        "model_file": DEFAULT.name,
        "model_sha256": MODEL_SHA256,
        "add_special_tokens": True,
        "threads": torch.get_num_threads(),
        "model_config": {k: getattr(model.config, k, None) for k in keys},
        "generation": gen_cfg,
        "hf_gguf_loader_norms": "Gemma2TensorProcessor subtracts 1 from every *norm.weight (llama.cpp "
                                "stored 1 + w); Gemma3RMSNorm multiplies by (1 + w) again",
        "fields": {
            "ids": "tokenizer(prompt).input_ids (BOS prepended, as the GGUF asks)",
            "last_top20": "[id, logprob] at the last prompt position, sorted by logprob desc",
            "teacher_forced": "logprob of ids[i] given ids[:i], for i = 1..len(ids)-1",
            "greedy32": "new ids from generate(do_sample=False, max_new_tokens=32), KV cache on",
            "greedy32_margin": "top-1 minus top-2 logprob of the raw logits at each greedy step",
            "greedy32_near_ties": f"steps whose margin < {NEAR_TIE}",
            "tokenizer_probes": "hf_ids = tokenizer(text).input_ids of HF's GGUF-built tokenizer",
        },
    })
    fixture = {"meta": meta, "tokenizer": summary, "cases": cases, "tokenizer_probes": probes}
    common.write_json(common.FIXTURES / "gemma3_parity.json", fixture, indent=1)


if __name__ == "__main__":
    main()
