"""SmolLM2-135M-Instruct parity fixture: tokenisation, last-position top-20 logprobs,
teacher-forced logprobs and the greedy 32-token continuation, from HF transformers.

Writes tests/fixtures/smollm2_parity.json and tests/fixtures/smollm2_tokenizer_hf.json.
Usage: python scripts/golden/make_parity.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import json

import common
import torch
from tokenizers import Tokenizer

PROMPTS = [
    ("prose", "The capital of France is"),
    ("code", "def fibonacci(n):\n    if n < 2:\n        return n\n    return"),
    ("digits", "12345 + 67890 ="),
    ("cjk", "东京是日本的首都，北京是"),
    ("emoji", "I love pizza 🍕 and coffee ☕ because"),
    ("leading_spaces", "   indented"),
    ("mixed", 'Version 3.14 of the naïve café\'s API (v2) returns {"ok": true}, so'),
    ("instruction", "Write a haiku about autumn leaves."),
    ("special_tokens", "<|im_start|>user\nHi<|im_end|>\n"),
    ("whitespace", "Line one\n\n\tTabbed line two\r\nend  of  text"),
    ("story", "Once upon a time, in a small village by the sea,"),
]

# Extra strings only used to compare HF's GGUF pre-tokenizer with the llama.cpp "smollm" one.
TOKENIZER_PROBES = [
    "1234567890", " 2024", "x1y22z333", "3rd 4th 10,000.50", "٣٤٥ ½ ² ①",
    "  two  spaces   three", "tab\tnew\nline\r\n", "don't you'll I'M", "a\u00a0b", "😀😀 👍🏽",
    "<|endoftext|>tail", "<|im_end|><|im_start|>", "日本語のテキスト", "Ünïcödé", "$%&@#!?",
    "http://example.com/path?q=1&r=2", "    def f(x):\n        return x**2",
]

GREEDY_NEW = 32
TOP = 20
NEAR_TIE = 1e-3


def design_tokenizer(hf_json: str) -> Tokenizer:
    """The tokenizer DESIGN.md describes (llama.cpp pre-tokenizer "smollm"):
    Sequence[Digits(individual), ByteLevel(no prefix space)] over the same BPE."""
    d = json.loads(hf_json)
    d["pre_tokenizer"] = {
        "type": "Sequence",
        "pretokenizers": [
            {"type": "Digits", "individual_digits": True},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        ],
    }
    d["post_processor"] = None
    return Tokenizer.from_str(json.dumps(d))


def tokenizer_summary(tok, backend: dict) -> dict:
    return {
        "class": type(tok).__name__,
        "model": {k: v for k, v in backend["model"].items() if k not in ("vocab", "merges")},
        "vocab_size": len(backend["model"]["vocab"]),
        "merges": len(backend["model"]["merges"]),
        "normalizer": backend["normalizer"],
        "pre_tokenizer": backend["pre_tokenizer"],
        "post_processor": backend["post_processor"],
        "decoder": backend["decoder"],
        "added_tokens": [[a["id"], a["content"], a["special"]] for a in backend["added_tokens"]],
        "hf_bos_token": [tok.bos_token, tok.bos_token_id],
        "hf_eos_token": [tok.eos_token, tok.eos_token_id],
        "hf_unk_token": [tok.unk_token, tok.unk_token_id],
        "hf_pad_token": [tok.pad_token, tok.pad_token_id],
        "hf_add_bos_token": bool(getattr(tok, "add_bos_token", False)),
        "hf_add_eos_token": bool(getattr(tok, "add_eos_token", False)),
        "gguf_add_bos_token": False,
        "note": (
            "HF's GGUF converter ignores tokenizer.ggml.add_bos_token=false and tokenizer.ggml.pre="
            "'smollm': its default encode prepends <|im_start|> (id 1) and its pre-tokenizer is plain "
            "ByteLevel (GPT-2 regex, no Digits split); its tokenizer-level eos_token is also id 1 "
            "(a converter bug; the model's config/generation eos is 2). Fixtures therefore use "
            "add_special_tokens=False; `design_pretokenizer_agrees` says whether Sequence[Digits"
            "(individual), ByteLevel] gives the same ids."
        ),
    }


def main():
    common.setup()
    path = common.gguf_path()
    tok, model = common.load_smollm2(path)
    backend_str = tok.backend_tokenizer.to_str()
    backend = json.loads(backend_str)
    (common.FIXTURES / "smollm2_tokenizer_hf.json").write_text(backend_str + "\n", encoding="utf-8")
    print("wrote tests/fixtures/smollm2_tokenizer_hf.json", len(backend_str), "bytes")
    design = design_tokenizer(backend_str)

    gen_cfg = {
        "do_sample": False,
        "max_new_tokens": GREEDY_NEW,
        "eos_token_id": model.generation_config.eos_token_id,
        "pad_token_id": model.generation_config.pad_token_id,
        "use_cache": True,
    }

    cases = []
    for name, prompt in PROMPTS:
        ids = common.encode(tok, prompt)
        ids_default = tok(prompt).input_ids  # what HF would do with add_special_tokens=True
        design_ids = design.encode(prompt, add_special_tokens=False).ids
        x = torch.tensor([ids])
        with torch.inference_mode():
            logits = model(x, use_cache=False).logits[0]  # (T, V) float32
        lp = common.log_softmax64(logits)
        top = torch.topk(lp[-1], TOP)
        tf = [common.r(lp[i - 1, ids[i]]) for i in range(1, len(ids))]

        with torch.inference_mode():
            out = model.generate(
                x,
                attention_mask=torch.ones_like(x),
                output_logits=True,
                return_dict_in_generate=True,
                **gen_cfg,
            )
        new = out.sequences[0, len(ids):].tolist()
        margins, chosen_lp = [], []
        for step, lg in enumerate(out.logits):
            slp = common.log_softmax64(lg[0])
            t2 = torch.topk(slp, 2)
            assert int(t2.indices[0]) == new[step] or float(t2.values[0] - t2.values[1]) < 1e-5, (name, step)
            margins.append(common.r(t2.values[0] - t2.values[1], 6))
            chosen_lp.append(common.r(slp[new[step]]))
        eos = gen_cfg["eos_token_id"]
        stopped = len(new) < GREEDY_NEW or (len(new) > 0 and new[-1] == eos)
        cases.append(
            {
                "name": name,
                "prompt": prompt,
                "ids": ids,
                "tokens": tok.convert_ids_to_tokens(ids),
                "hf_default_ids": ids_default,
                "design_pretokenizer_agrees": design_ids == ids,
                "last_top20": [[int(i), common.r(v)] for v, i in zip(top.values, top.indices)],
                "teacher_forced": tf,
                "greedy32": new,
                "greedy32_text": tok.decode(new, skip_special_tokens=False),
                "greedy32_logprob": chosen_lp,
                "greedy32_margin": margins,
                "greedy32_near_ties": [i for i, m in enumerate(margins) if m < NEAR_TIE],
                "greedy32_stopped_at_eos": stopped,
            }
        )
        print(f"{name:15s} ids={len(ids):3d} greedy={len(new)} stop={stopped} min_margin={min(margins):.4g} "
              f"design_agrees={design_ids == ids} -> {tok.decode(new)!r}")

    probes = []
    for s in TOKENIZER_PROBES:
        a = common.encode(tok, s)
        b = design.encode(s, add_special_tokens=False).ids
        probes.append({"text": s, "hf_ids": a, "design_ids": b, "agree": a == b})

    fixture = {
        "meta": common.provenance(
            {
                "model_config": {
                    k: getattr(model.config, k)
                    for k in (
                        "num_hidden_layers", "hidden_size", "intermediate_size", "num_attention_heads",
                        "num_key_value_heads", "head_dim", "rope_theta", "rms_norm_eps", "vocab_size",
                        "tie_word_embeddings", "bos_token_id", "eos_token_id", "pad_token_id",
                        "max_position_embeddings",
                    )
                },
                "generation": gen_cfg,
                "hf_gguf_loader_unpermutes_qk": True,
                "fields": {
                    "ids": "prompt ids, add_special_tokens=False",
                    "hf_default_ids": "HF tokenizer(prompt) with its default add_special_tokens=True",
                    "last_top20": "[id, logprob] at the last prompt position, sorted by logprob desc",
                    "teacher_forced": "logprob of ids[i] given ids[:i], for i = 1..len(ids)-1",
                    "greedy32": "new ids from generate(do_sample=False, max_new_tokens=32), KV cache on",
                    "greedy32_margin": "top-1 minus top-2 logprob of the raw logits at each greedy step",
                    "greedy32_near_ties": f"steps whose margin < {NEAR_TIE}",
                },
            }
        ),
        "tokenizer": tokenizer_summary(tok, backend),
        "cases": cases,
        "tokenizer_probes": probes,
    }
    common.write_json(common.FIXTURES / "smollm2_parity.json", fixture, indent=1)


if __name__ == "__main__":
    main()
