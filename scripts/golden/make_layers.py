"""Logit lens, DoLa greedy decoding and contrastive search reference from HF transformers.

Writes tests/fixtures/layers.json.
Usage: python scripts/golden/make_layers.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]

Needs transformers==4.55.4 (the last release with DoLa and contrastive search inside
`generate`; 4.56 moved both to hub-hosted `custom_generate` repositories): see README.md.
"""

import common  # noqa: I001  (first: sets the offline/quiet environment)
import math
import time

import torch
import transformers
import transformers.generation.utils as gen_utils
from transformers import GenerationConfig

PINNED_TRANSFORMERS = "4.55.4"

LENS_PROMPTS = [
    "The capital of France is",
    "The Eiffel Tower is located in the city of",
    "Water freezes at a temperature of",
]
GEN_PROMPTS = ["The capital of France is", "Once upon a time,", "The best way to learn programming is"]
LENS_TOP = 10
STEP_TOP = 5

DOLA_BASE = dict(
    do_sample=False,
    repetition_penalty=1.2,
    max_new_tokens=24,
    output_scores=True,
    return_dict_in_generate=True,
)
DOLA_CASES = [(p, "high") for p in GEN_PROMPTS] + [
    ("The capital of France is", "low"),
    ("The capital of France is", [10, 20]),
]
CONTRASTIVE = dict(
    penalty_alpha=0.6,
    top_k=4,
    do_sample=False,
    max_new_tokens=24,
    output_scores=True,
    return_dict_in_generate=True,
)


def top_pairs(row: torch.Tensor, k: int, nd: int = 6) -> list:
    v, i = torch.topk(row, k)
    return [[int(a), round(float(b), nd)] for a, b in zip(i.tolist(), v.tolist())]


def margin(row: torch.Tensor):
    """top-1 minus top-2 of one step's output scores; None when the runner-up is -inf."""
    v = torch.topk(row.double(), 2).values
    m = float(v[0] - v[1])
    return None if math.isinf(m) or math.isnan(m) else round(m, 7)


# ---- recorders around HF's own module-level helpers (looked up at call time) -------------
_TRACE = []
_ORIG_SELECT = gen_utils._dola_select_contrast
_ORIG_RANKING = gen_utils._ranking_fast


def _traced_select(candidate_premature_layers, candidate_premature_logits, final_logits):
    """Records which premature layer HF picks (same formulas as `_dola_select_contrast`)."""
    F = torch.nn.functional
    if len(candidate_premature_layers) == 1:
        js = None
        chosen = candidate_premature_layers[0]
    else:
        stacked = torch.stack([candidate_premature_logits[i] for i in candidate_premature_layers], dim=0)
        avg = 0.5 * (F.softmax(final_logits, dim=-1)[None] + F.softmax(stacked, dim=-1))
        kl1 = F.kl_div(F.log_softmax(final_logits, dim=-1)[None], avg, reduction="none").mean(-1)
        kl2 = F.kl_div(F.log_softmax(stacked, dim=-1), avg, reduction="none").mean(-1)
        js = (0.5 * (kl1 + kl2)).mean(-1)
        chosen = candidate_premature_layers[int(js.argmax().item())]
        js = [float(x) for x in js.tolist()]
    out = _ORIG_SELECT(candidate_premature_layers, candidate_premature_logits, final_logits)
    _TRACE.append({
        "candidates": list(candidate_premature_layers),
        "premature_layer": chosen,
        "js": js,
        "kept": int(torch.isfinite(out[0]).sum()),
    })
    return out


def _traced_ranking(context_hidden, next_hidden, next_top_k_probs, cosine_matrix_mask, alpha, beam_width):
    a = context_hidden / context_hidden.norm(dim=2, keepdim=True)
    b = next_hidden / next_hidden.norm(dim=2, keepdim=True)
    cos = torch.matmul(a, b.transpose(1, 2)).squeeze(-1)
    pen = cos.max(dim=-1).values
    probs = next_top_k_probs.view(-1)
    score = (1.0 - alpha) * probs - alpha * pen
    sel = _ORIG_RANKING(context_hidden, next_hidden, next_top_k_probs, cosine_matrix_mask, alpha, beam_width)
    _TRACE.append({
        "context_len": int(context_hidden.shape[1]),
        "probs": [round(float(x), 7) for x in probs.tolist()],
        "penalty": [round(float(x), 7) for x in pen.tolist()],
        "score": [round(float(x), 7) for x in score.tolist()],
        "selected": int(sel[0]),
    })
    return sel


gen_utils._dola_select_contrast = _traced_select
gen_utils._ranking_fast = _traced_ranking


def logit_lens(tok, model):
    L = model.config.num_hidden_layers
    last_layer_out = {}
    hook = model.model.layers[L - 1].register_forward_hook(
        lambda m, i, o: last_layer_out.__setitem__("h", (o[0] if isinstance(o, tuple) else o).detach())
    )
    res = []
    try:
        for p in LENS_PROMPTS:
            ids = common.encode(tok, p)
            with torch.inference_mode():
                out = model(torch.tensor([ids]), use_cache=False, output_hidden_states=True)
                hs = out.hidden_states
                assert len(hs) == L + 1
                # hidden_states[L] is the FINAL-NORMED last hidden state (not the raw output of the
                # last decoder layer): norm(raw) == hs[L], lm_head(hs[L]) == logits.
                assert torch.equal(model.model.norm(last_layer_out["h"]), hs[L])
                assert not torch.allclose(last_layer_out["h"], hs[L])
                assert torch.allclose(model.lm_head(hs[L]), out.logits, atol=1e-5, rtol=0)
                # hidden_states[0] is the embedding output (input of layer 0)
                assert torch.equal(hs[0], model.model.embed_tokens(torch.tensor([ids])))
                layers = []
                for layer in range(1, L + 1):
                    logits = out.logits[0] if layer == L else model.lm_head(model.model.norm(hs[layer]))[0]
                    lp = common.log_softmax64(logits)
                    layers.append({
                        "layer": layer,
                        "positions": [{"top": top_pairs(lp[t], LENS_TOP)} for t in range(len(ids))],
                    })
            res.append({"prompt": p, "ids": ids, "layers": layers})
            finals = [tok.decode([layers[i]["positions"][-1]["top"][0][0]]) for i in range(0, L, 5)] + [
                tok.decode([layers[-1]["positions"][-1]["top"][0][0]])
            ]
            print(f"lens {p!r}: last-position top-1 at layers 1,6,..,26,30: {finals}")
    finally:
        hook.remove()
    return res


def gen_config(mg, kw):
    gc = GenerationConfig(bos_token_id=mg.bos_token_id, eos_token_id=mg.eos_token_id,
                          pad_token_id=mg.pad_token_id, **kw)
    used = {k: v for k, v in gc.to_diff_dict().items() if k != "transformers_version"}
    return gc, used


def run_generate(tok, model, prompt, gc):
    ids = common.encode(tok, prompt)
    x = torch.tensor([ids])
    _TRACE.clear()
    with torch.inference_mode():
        out = model.generate(x, attention_mask=torch.ones_like(x), generation_config=gc)
    new = out.sequences[0, len(ids):].tolist()
    assert len(out.scores) == len(new) == len(_TRACE), (len(out.scores), len(new), len(_TRACE))
    return ids, new, out.scores, list(_TRACE)


def dola(tok, model, mg):
    res = []
    L = model.config.num_hidden_layers
    expected = {"high": list(range(L // 2, L, 2)), "low": list(range(2, L // 2, 2))}
    for p, layers in DOLA_CASES:
        gc, used = gen_config(mg, dict(DOLA_BASE, dola_layers=layers))
        assert gc.get_generation_mode() == "dola_generation"
        ids, new, scores, trace = run_generate(tok, model, p, gc)
        cand = trace[0]["candidates"]
        assert cand == (expected[layers] if isinstance(layers, str) else layers), cand
        steps = []
        for s, t in zip(scores, trace):
            row = s[0]
            steps.append({
                "premature_layer": t["premature_layer"],
                "js": None if t["js"] is None else [float(f"{v:.6g}") for v in t["js"]],
                "kept": t["kept"],
                "top": top_pairs(row, min(STEP_TOP, t["kept"])),
            })
        res.append({
            "prompt": p, "ids": ids, "config": used, "candidate_layers": cand, "new_ids": new,
            "text": tok.decode(new), "margins": [margin(s[0]) for s in scores], "steps": steps,
        })
        print(f"dola {layers!r} {p!r}: {tok.decode(new)!r}  layers {[t['premature_layer'] for t in trace]}")
    return res


def contrastive(tok, model, mg):
    res = []
    gc, used = gen_config(mg, CONTRASTIVE)
    assert gc.get_generation_mode() == "contrastive_search"
    for p in GEN_PROMPTS:
        ids, new, scores, trace = run_generate(tok, model, p, gc)
        steps = []
        for i, (s, t) in enumerate(zip(scores, trace)):
            probs = torch.softmax(s[0], dim=-1)
            kp, ki = torch.topk(probs, CONTRASTIVE["top_k"])
            assert [round(float(v), 7) for v in kp.tolist()] == t["probs"]
            cands = [int(v) for v in ki.tolist()]
            assert cands[t["selected"]] == new[i]
            assert t["context_len"] == len(ids) + i
            steps.append({"candidates": cands, "probs": t["probs"], "penalty": t["penalty"],
                          "score": t["score"], "selected": t["selected"]})
        res.append({
            "prompt": p, "ids": ids, "config": used, "new_ids": new, "text": tok.decode(new),
            "margins": [margin(s[0]) for s in scores], "steps": steps,
        })
        print(f"contrastive {p!r}: {tok.decode(new)!r}")
    return res


def main():
    if transformers.__version__ != PINNED_TRANSFORMERS:
        raise SystemExit(f"make_layers.py needs transformers=={PINNED_TRANSFORMERS} (DoLa and contrastive "
                         f"search inside generate), found {transformers.__version__}; see README.md")
    t0 = time.time()
    common.setup()
    path = common.gguf_path()
    tok, model = common.load_smollm2(path)
    mg = model.generation_config
    L = model.config.num_hidden_layers
    assert model.config.tie_word_embeddings
    lens = logit_lens(tok, model)
    dl = dola(tok, model, mg)
    cs = contrastive(tok, model, mg)
    fixture = {
        "meta": common.provenance({
            "script": "scripts/golden/make_layers.py",
            "transformers": transformers.__version__,
            "torch": torch.__version__,
            "gguf_sha256": common.sha256(path.resolve()),
            "layers": L,
            "model_generation_config": {"bos_token_id": mg.bos_token_id, "eos_token_id": mg.eos_token_id,
                                        "pad_token_id": mg.pad_token_id},
            "notes": (
                "hidden_states[0] = embeddings, hidden_states[l] = output of decoder layer l-1 (raw "
                "residual stream) for l < L, hidden_states[L] = FINAL-NORMED output of the last layer. "
                "lens: one forward (float32, eager, no cache). For l in 1..L-1: "
                "log_softmax64(lm_head(model.norm(hidden_states[l]))); for l = L the model's own logits "
                "(== lm_head(hidden_states[L]); checked). Top-10 per prompt position, [id, logprob] "
                "rounded to 6 decimals. "
                "dola: HF 4.55.4 generate with dola_layers. Premature logits are lm_head(hidden_states[l]) "
                "WITHOUT the final norm; final logits are the model's logits; the candidate layer with the "
                "largest JSD (kl_div, mean over the vocabulary) is contrasted; output scores = "
                "repetition_penalty applied to log_softmax(final) - log_softmax(premature) after the "
                "relative-top filter (0.1; filtered tokens -inf). margins[i] = top1 - top2 of scores[i] "
                "(null when only one token survives). steps[i]: premature_layer, js per candidate layer "
                "(HF's float32 values), kept = number of finite scores, top = top-5 [id, score]. "
                "contrastive: HF 4.55.4 generate with penalty_alpha/top_k; margins[i] = top1 - top2 of "
                "scores[i] (no logits processors are configured, so these are the model's float32 "
                "logits); steps[i]: the top_k candidate ids, their softmax probs, the degeneration "
                "penalty (max cosine of the candidate's final-normed hidden state with the final-normed "
                "hidden states of all earlier positions, prompt included), score = (1-alpha)*prob - "
                "alpha*penalty, selected = argmax (first on ties)."
            ),
        }),
        "lens": lens,
        "dola": dl,
        "contrastive": cs,
    }
    common.write_json(common.FIXTURES / "layers.json", fixture, indent=None)
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
