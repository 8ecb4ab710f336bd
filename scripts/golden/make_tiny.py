"""Tiny random models for the loader tests, plus their HF reference outputs.

Writes tests/fixtures/tiny-gpt2/ (GPT2LMHeadModel, one safetensors file, tied head),
tests/fixtures/tiny-llama/ (LlamaForCausalLM, GQA, untied head, two safetensors shards with
model.safetensors.index.json), a shared byte-level BPE tokenizer.json in each, and
tests/fixtures/tiny_parity.json.
Usage: python scripts/golden/make_tiny.py
"""

import hashlib
import json
import shutil

import common
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

# A few paragraphs of original text to train the tiny tokenizer on (deterministic).
CORPUS = [
    "The quick brown fox jumps over the lazy dog. The dog sleeps in the sun, and the fox runs "
    "back to the forest before the farmer wakes up.",
    "Language models predict the next token from the tokens before it. A decoder turns those "
    "predictions into text: greedy search takes the most likely token, beam search keeps several "
    "hypotheses, and sampling draws from the distribution after temperature, top-k and top-p.",
    "In 1969, 3 astronauts flew 384,400 km to the Moon; the trip took about 3 days and 4 hours. "
    "Numbers like 42, 1024 and 65536 appear often in computing.",
    "def add(a, b):\n    return a + b\n\nfor i in range(10):\n    print(add(i, i * 2))\n",
    "Once upon a time, in a small village by the sea, there lived an old fisherman who told "
    "stories to the children every evening. They listened, they laughed, and they asked for more.",
    "Attention lets every position look at the positions before it. Keys and values are cached "
    "so that each new token costs one row of attention instead of a full square.",
]
PROMPTS = ["The quick brown fox", "Beam search keeps several", "for i in range(10):\n   "]
VOCAB_SIZE = 400
SPECIAL = "<|endoftext|>"
SEED = 1234
TOP = 20
GREEDY_NEW = 16


def train_tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=[SPECIAL],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer=trainer)
    return tok


def perturb_(model, seed: int) -> None:
    """HF init leaves norms at 1/0 and biases at 0; randomise them so a loader that swaps or
    drops them fails the parity test."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1 and ("ln" in name or "norm" in name) and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn(p.shape, generator=g))


def build_gpt2(vocab: int, eot: int):
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=vocab, n_positions=128, n_embd=64, n_layer=2, n_head=4,
        bos_token_id=eot, eos_token_id=eot, initializer_range=0.1,
    )
    torch.manual_seed(SEED)
    m = GPT2LMHeadModel(cfg)
    perturb_(m, SEED + 1)
    return m


def build_llama(vocab: int, eot: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=vocab, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        rope_theta=10000.0, rms_norm_eps=1e-5, tie_word_embeddings=False,
        initializer_range=0.1, bos_token_id=eot, eos_token_id=eot,
    )
    torch.manual_seed(SEED)
    m = LlamaForCausalLM(cfg)
    perturb_(m, SEED + 2)
    return m


def file_digests(d):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.iterdir()) if p.is_file()}


def reference(model_dir, tok: Tokenizer):
    from transformers import AutoModelForCausalLM, GenerationConfig

    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), dtype=torch.float32, attn_implementation="eager"
    ).eval()
    gen = GenerationConfig(do_sample=False, max_new_tokens=GREEDY_NEW, eos_token_id=None,
                           pad_token_id=None, bos_token_id=None)
    out = []
    for prompt in PROMPTS:
        ids = tok.encode(prompt, add_special_tokens=False).ids
        x = torch.tensor([ids])
        with torch.inference_mode():
            lp = common.log_softmax64(model(x, use_cache=False).logits[0])
            g = model.generate(x, attention_mask=torch.ones_like(x), generation_config=gen,
                               output_logits=True, return_dict_in_generate=True)
        new = g.sequences[0, len(ids):].tolist()
        assert len(new) == GREEDY_NEW
        margins = []
        for lg in g.logits:
            t2 = torch.topk(common.log_softmax64(lg[0]), 2).values
            margins.append(common.r(t2[0] - t2[1], 6))
        top = torch.topk(lp[-1], TOP)
        out.append({
            "prompt": prompt,
            "ids": ids,
            "last_top20": [[int(i), common.r(v)] for v, i in zip(top.values, top.indices)],
            "teacher_forced": [common.r(lp[i - 1, ids[i]]) for i in range(1, len(ids))],
            "greedy16": new,
            "greedy16_margin": margins,
        })
        print(f"  {prompt!r}: ids={len(ids)} greedy={new} min_margin={min(margins):.3g}")
    return out


def main():
    common.setup()
    tok = train_tokenizer()
    again = train_tokenizer()
    assert tok.to_str() == again.to_str(), "tokenizer training is not deterministic"
    vocab = tok.get_vocab_size()
    eot = tok.token_to_id(SPECIAL)
    print(f"tokenizer: vocab {vocab}, {SPECIAL}={eot}")

    result = {
        "meta": {
            **{k: v for k, v in common.provenance().items() if k in ("generator", "versions", "threads")},
            "seed": SEED,
            "tokenizer": f"byte-level BPE trained with tokenizers on a fixed corpus, vocab {vocab}, "
                         f"{SPECIAL}={eot}; prompts encoded without special tokens",
            "logprob": "natural log, log_softmax of the float32 logits computed in float64",
            "generation": {"do_sample": False, "max_new_tokens": GREEDY_NEW, "eos_token_id": None,
                           "use_cache": True},
            "note": "norm weights are 1+0.1*N(0,1) and all biases 0.05*N(0,1) (not HF's 1/0 init)",
        },
        "models": {},
    }
    for name, build, shard in (("tiny-gpt2", build_gpt2, None), ("tiny-llama", build_llama, 2)):
        d = common.FIXTURES / name
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
        model = build(vocab, eot)
        if shard:
            total = sum(p.numel() * p.element_size() for p in model.state_dict().values())
            model.save_pretrained(d, safe_serialization=True, max_shard_size=f"{total * 6 // 10 // 1000}KB")
            shards = sorted(p.name for p in d.glob("model-*.safetensors"))
            assert len(shards) == shard and (d / "model.safetensors.index.json").exists(), shards
        else:
            model.save_pretrained(d, safe_serialization=True)
            assert (d / "model.safetensors").exists()
        tok.save(str(d / "tokenizer.json"))
        for f in d.iterdir():
            f.chmod(0o644)
        print(f"{name}: {sum(p.numel() for p in model.parameters())} params, files {sorted(p.name for p in d.iterdir())}")
        result["models"][name] = {
            "dir": f"tests/fixtures/{name}",
            "architecture": type(model).__name__,
            "files_sha256": file_digests(d),
            "cases": reference(d, tok),
        }
    common.write_json(common.FIXTURES / "tiny_parity.json", result, indent=1)


if __name__ == "__main__":
    main()
