"""A tiny random target/draft pair sharing a vocabulary, for the speculative-decoding tests.

Writes tests/fixtures/spec-target/ (LlamaForCausalLM, 2 layers) and tests/fixtures/spec-draft/
(LlamaForCausalLM, 1 layer: the target's first layer, embeddings, norm and head with seeded
noise added), each with config.json, model.safetensors and the tiny byte-level BPE
tokenizer.json of tests/fixtures/tiny-llama (373 tokens). The weights are seeded normal draws,
scaled so the next-token distributions are peaked; the draft agrees with the target often but
far from always, so exactness tests exercise accepts, rejections and residual draws alike. Only numpy and safetensors are needed (pinned in requirements.txt).
Usage: python scripts/golden/make_spec_pair.py
"""

import json
import shutil
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "fixtures"
TOKENIZER = FIX / "tiny-llama" / "tokenizer.json"
VOCAB = 373
EOS = 0
# Relative size of the noise that makes the draft differ from the target.
NOISE = 0.15


def config(hidden: int, layers: int, heads: int, kv_heads: int, inter: int) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": False,
        "bos_token_id": EOS,
        "eos_token_id": EOS,
        "head_dim": hidden // heads,
        "hidden_act": "silu",
        "hidden_size": hidden,
        "intermediate_size": inter,
        "max_position_embeddings": 128,
        "num_attention_heads": heads,
        "num_hidden_layers": layers,
        "num_key_value_heads": kv_heads,
        "rms_norm_eps": 1e-05,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "float32",
        "vocab_size": VOCAB,
    }


def weights(cfg: dict, seed: int, head_scale: float) -> dict:
    rng = np.random.default_rng(seed)
    h, f = cfg["hidden_size"], cfg["intermediate_size"]
    d = cfg["head_dim"]
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]

    def mat(rows: int, cols: int, scale: float) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * scale / np.sqrt(cols)).astype(np.float32)

    def norm(n: int) -> np.ndarray:
        return (1.0 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    w = {"model.embed_tokens.weight": mat(VOCAB, h, np.sqrt(h))}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        w[f"{p}.input_layernorm.weight"] = norm(h)
        w[f"{p}.self_attn.q_proj.weight"] = mat(nh * d, h, 1.0)
        w[f"{p}.self_attn.k_proj.weight"] = mat(nkv * d, h, 1.0)
        w[f"{p}.self_attn.v_proj.weight"] = mat(nkv * d, h, 1.0)
        w[f"{p}.self_attn.o_proj.weight"] = mat(h, nh * d, 1.0)
        w[f"{p}.post_attention_layernorm.weight"] = norm(h)
        w[f"{p}.mlp.gate_proj.weight"] = mat(f, h, 1.0)
        w[f"{p}.mlp.up_proj.weight"] = mat(f, h, 1.0)
        w[f"{p}.mlp.down_proj.weight"] = mat(h, f, 1.0)
    w["model.norm.weight"] = norm(h)
    w["lm_head.weight"] = mat(VOCAB, h, head_scale)
    return w


def write(name: str, cfg: dict, w: dict) -> None:
    out = FIX / name
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
    save_file(w, str(out / "model.safetensors"))
    shutil.copyfile(TOKENIZER, out / "tokenizer.json")


def main() -> None:
    target_cfg = config(64, 2, 4, 2, 128)
    target = weights(target_cfg, seed=2023, head_scale=4.0)
    write("spec-target", target_cfg, target)
    # The draft: the target cut to its first layer, every kept tensor perturbed.
    rng = np.random.default_rng(711)
    draft = {
        k: (v + NOISE * v.std() * rng.standard_normal(v.shape)).astype(np.float32)
        for k, v in target.items()
        if not k.startswith("model.layers.1.")
    }
    write("spec-draft", config(64, 1, 4, 2, 128), draft)


if __name__ == "__main__":
    main()
