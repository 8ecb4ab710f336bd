"""Eager-attention probabilities of SmolLM2 for one prompt (layers 0 and 29, all heads).

Writes tests/fixtures/attention.json.
Usage: python scripts/golden/make_attention.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import common  # noqa: I001  (first: sets the offline/quiet environment)
import torch

PROMPT = "The quick brown fox jumps over the lazy dog because it was"
LAYERS = [0, 29]


def main():
    common.setup()
    tok, model = common.load_smollm2(common.gguf_path())
    ids = common.encode(tok, PROMPT)
    with torch.inference_mode():
        out = model(torch.tensor([ids]), use_cache=False, output_attentions=True)
    assert len(out.attentions) == model.config.num_hidden_layers
    layers = {}
    for li in LAYERS:
        a = out.attentions[li][0]  # (heads, T, T), rows = queries, softmax over keys
        assert a.shape == (model.config.num_attention_heads, len(ids), len(ids))
        upper = torch.triu(a, diagonal=1)
        assert float(upper.abs().max()) == 0.0, "causal mask: upper triangle must be exactly 0"
        heads = []
        for h in range(a.shape[0]):
            heads.append([[round(float(v), 6) for v in a[h, q, : q + 1]] for q in range(len(ids))])
        layers[str(li)] = heads
    fixture = {
        "meta": common.provenance({
            "layout": "layers[L][head][query] = attention probabilities over keys 0..query "
                      "(lower triangle; the rest is exactly 0), rounded to 6 decimals",
            "num_heads": model.config.num_attention_heads,
            "num_kv_heads": model.config.num_key_value_heads,
        }),
        "prompt": PROMPT,
        "ids": ids,
        "tokens": tok.convert_ids_to_tokens(ids),
        "layers": layers,
    }
    common.write_json(common.FIXTURES / "attention.json", fixture, indent=None)
    print(f"{len(ids)} tokens: {fixture['tokens']}")


if __name__ == "__main__":
    main()
