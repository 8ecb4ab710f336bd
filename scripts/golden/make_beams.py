"""Beam search and diverse (group) beam search reference from HF `generate`.

Writes tests/fixtures/beams.json.
Usage: python scripts/golden/make_beams.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import common  # noqa: I001  (first: sets the offline/quiet environment)
import torch
from transformers import GenerationConfig

PROMPTS = ["The capital of France is", "Once upon a time,", "The best way to learn programming is"]

BASE = dict(
    num_beams=4,
    num_return_sequences=4,
    length_penalty=1.0,
    early_stopping=True,
    max_new_tokens=12,
    do_sample=False,
    output_scores=True,
    return_dict_in_generate=True,
)
CONFIGS = {
    "beam": dict(BASE),
    "group_beam": dict(BASE, num_beam_groups=2, diversity_penalty=0.5),
}


def main():
    common.setup()
    tok, model = common.load_smollm2(common.gguf_path())
    mg = model.generation_config
    results = {}
    used = {}
    for cname, kw in CONFIGS.items():
        gc = GenerationConfig(
            bos_token_id=mg.bos_token_id, eos_token_id=mg.eos_token_id, pad_token_id=mg.pad_token_id, **kw
        )
        used[cname] = {k: v for k, v in gc.to_diff_dict().items() if k != "transformers_version"}
        out_prompts = []
        for p in PROMPTS:
            ids = common.encode(tok, p)
            x = torch.tensor([ids])
            with torch.inference_mode():
                out = model.generate(x, attention_mask=torch.ones_like(x), generation_config=gc)
                trans = model.compute_transition_scores(
                    out.sequences, out.scores, out.beam_indices, normalize_logits=False
                )
            seqs = out.sequences.tolist()
            n = len(ids)
            hyps = []
            for b, seq in enumerate(seqs):
                new = seq[n:]
                # strip right padding after EOS (pad == eos here, so keep the first EOS)
                length = len(new)
                if mg.eos_token_id in new:
                    length = new.index(mg.eos_token_id) + 1
                full = torch.tensor([seq[: n + length]])
                with torch.inference_mode():
                    lp = common.log_softmax64(model(full, use_cache=False).logits[0])
                raw = [float(lp[n + i - 1, new[i]]) for i in range(length)]
                raw_score = sum(raw) / (length ** kw["length_penalty"])
                h = {
                    "new_ids": new,
                    "new_len": length,
                    "text": tok.decode(new[:length]),
                    "sequence": seq,
                    "sequences_score": float(out.sequences_scores[b]),
                    "raw_logprobs": [common.r(v) for v in raw],
                    "raw_score": common.r(raw_score),
                    "beam_indices": [int(v) for v in out.beam_indices[b, :length].tolist()],
                }
                if cname == "beam":
                    # plain beam search: the transition scores are the raw logprobs, and
                    # sequences_score is their sum over new_len**length_penalty
                    steps = trans[b, :length].double()
                    h["token_scores"] = [common.r(v) for v in steps.tolist()]
                    assert abs(raw_score - h["sequences_score"]) < 1e-4, (raw_score, h["sequences_score"])
                hyps.append(h)
            out_prompts.append({"prompt": p, "ids": ids, "hypotheses": hyps})
            print(f"{cname} {p!r}")
            for h in hyps:
                print(f"   {h['sequences_score']:.5f} (raw {h['raw_score']:.5f}) {h['text']!r}")
        results[cname] = out_prompts

    fixture = {
        "meta": common.provenance({
            "generation_config": used,
            "model_generation_config": {"bos_token_id": mg.bos_token_id, "eos_token_id": mg.eos_token_id,
                                        "pad_token_id": mg.pad_token_id},
            "fields": {
                "new_ids": "returned ids after the prompt, right-padded with pad_token_id",
                "new_len": "new tokens up to and including the first EOS (else all)",
                "sequences_score": "HF sequences_scores: sum of the (processed) beam logprobs of the new "
                                   "tokens / new_len**length_penalty; for group beam the processed logprobs "
                                   "include the diversity penalty (Hamming: -diversity_penalty x how many "
                                   "beams of earlier groups chose that token at the same step)",
                "raw_logprobs": "teacher-forced float64 log_softmax of the model's logits for each new "
                                "token (no processors, no penalty), one full forward without cache",
                "raw_score": "sum(raw_logprobs) / new_len**length_penalty (== sequences_score for beam, "
                             "and for group-0 hypotheses of group_beam)",
                "token_scores": "beam only: compute_transition_scores(normalize_logits=False) per new token",
                "beam_indices": "HF beam_indices: the beam slot each new token came from; for group_beam "
                                "HF 4.56 records slots local to the group (0..group_size-1), a known "
                                "quirk, so compute_transition_scores is not used there",
            },
        }),
        "runs": results,
    }
    common.write_json(common.FIXTURES / "beams.json", fixture, indent=1)


if __name__ == "__main__":
    main()
