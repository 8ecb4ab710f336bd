"""HF LogitsProcessor reference outputs on real SmolLM2 logits.

Writes tests/fixtures/processors.json and tests/fixtures/processors_logits.f32.

processors_logits.f32 is a sequence of rows, each 49152 little-endian float32 values:
rows 0 and 1 are the raw (unprocessed) last-position logits of prompts 0 and 1 — the inputs of
every case. A case that keeps more than DENSE_LIMIT ids (temperature, penalties, bans) also
stores HF's processed float32 scores as a row (`dense_row`, -inf where removed); smaller kept
sets are listed in the JSON as [id, prob, processed_logit] sorted by prob (desc), where
prob = softmax over the kept ids of the processed float32 scores, computed in float64.
Usage: python scripts/golden/make_processors.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import common  # noqa: I001  (first: sets the offline/quiet environment)
import numpy as np
import torch
from transformers.generation.logits_process import (
    EpsilonLogitsWarper,
    EtaLogitsWarper,
    LogitsProcessorList,
    MinPLogitsWarper,
    NoBadWordsLogitsProcessor,
    NoRepeatNGramLogitsProcessor,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
    TypicalLogitsWarper,
)

# Prompt 1 ends in " the" after an earlier " the mat", so NoRepeatNGram(2) bans " mat".
PROMPTS = ["The capital of France is", "The cat sat on the mat. The dog sat on the"]
DENSE_LIMIT = 2048
TOP_LISTED = 20


def cases_for(history, raw, eos):
    """(name, params, processor-or-list) for one prompt; bad words depend on the logits."""
    order = torch.argsort(raw, descending=True)
    top1, top2 = int(order[0]), int(order[1])
    last = int(history[-1])
    bad = [[top1], [last, top2]]
    return [
        ("TemperatureLogitsWarper", {"temperature": 0.7}, TemperatureLogitsWarper(0.7)),
        ("TopKLogitsWarper", {"top_k": 50, "min_tokens_to_keep": 1}, TopKLogitsWarper(50)),
        ("TopPLogitsWarper", {"top_p": 0.9, "min_tokens_to_keep": 1}, TopPLogitsWarper(0.9)),
        ("MinPLogitsWarper", {"min_p": 0.05, "min_tokens_to_keep": 1}, MinPLogitsWarper(0.05)),
        ("EpsilonLogitsWarper", {"epsilon": 3e-4, "min_tokens_to_keep": 1}, EpsilonLogitsWarper(3e-4)),
        ("EtaLogitsWarper", {"epsilon": 1e-3, "min_tokens_to_keep": 1}, EtaLogitsWarper(1e-3)),
        ("TypicalLogitsWarper", {"mass": 0.9, "min_tokens_to_keep": 1}, TypicalLogitsWarper(0.9)),
        ("RepetitionPenaltyLogitsProcessor", {"penalty": 1.3}, RepetitionPenaltyLogitsProcessor(1.3)),
        ("NoRepeatNGramLogitsProcessor", {"ngram_size": 2}, NoRepeatNGramLogitsProcessor(2)),
        (
            "NoBadWordsLogitsProcessor",
            {"bad_words_ids": bad, "eos_token_id": eos,
             "why": "[top-1 id] is always banned; [last history id, top-2 id] bans top-2 here"},
            NoBadWordsLogitsProcessor(bad, eos_token_id=eos),
        ),
        (
            "chain",
            {"stages": [
                ["RepetitionPenaltyLogitsProcessor", {"penalty": 1.2}],
                ["TemperatureLogitsWarper", {"temperature": 0.8}],
                ["TopKLogitsWarper", {"top_k": 40, "min_tokens_to_keep": 1}],
                ["TopPLogitsWarper", {"top_p": 0.92, "min_tokens_to_keep": 1}],
            ]},
            LogitsProcessorList([
                RepetitionPenaltyLogitsProcessor(1.2),
                TemperatureLogitsWarper(0.8),
                TopKLogitsWarper(40),
                TopPLogitsWarper(0.92),
            ]),
        ),
        (
            "chain",
            {"stages": [
                ["NoRepeatNGramLogitsProcessor", {"ngram_size": 2}],
                ["MinPLogitsWarper", {"min_p": 0.02, "min_tokens_to_keep": 1}],
                ["TemperatureLogitsWarper", {"temperature": 1.5}],
                ["TypicalLogitsWarper", {"mass": 0.95, "min_tokens_to_keep": 1}],
            ]},
            LogitsProcessorList([
                NoRepeatNGramLogitsProcessor(2),
                MinPLogitsWarper(0.02),
                TemperatureLogitsWarper(1.5),
                TypicalLogitsWarper(0.95),
            ]),
        ),
    ]


def main():
    common.setup()
    tok, model = common.load_smollm2(common.gguf_path())
    eos = int(model.generation_config.eos_token_id)
    rows = []
    prompts = []
    raws = []
    for p in PROMPTS:
        ids = common.encode(tok, p)
        with torch.inference_mode():
            raw = model(torch.tensor([ids]), use_cache=False).logits[0, -1].float().clone()
        rows.append(raw.numpy())
        raws.append(raw)
        prompts.append({"prompt": p, "history": ids, "tokens": tok.convert_ids_to_tokens(ids),
                        "raw_row": len(rows) - 1})

    out_cases = []
    for pi, (p, raw) in enumerate(zip(prompts, raws)):
        history = torch.tensor([p["history"]])
        for name, params, proc in cases_for(p["history"], raw, eos):
            scores = raw.clone().unsqueeze(0)
            with torch.inference_mode():
                res = proc(history, scores)[0]
            assert res.dtype == torch.float32
            finite = torch.isfinite(res)
            kept = torch.nonzero(finite).flatten()
            lp = torch.log_softmax(res[kept].double(), dim=-1)
            probs = torch.exp(lp)
            order = torch.argsort(probs, descending=True, stable=True)
            listing = [[int(kept[j]), float(probs[j]), float(res[kept[j]])] for j in order.tolist()]
            case = {"prompt_index": pi, "name": name, "params": params, "kept_count": int(kept.numel())}
            if kept.numel() > DENSE_LIMIT:
                if torch.equal(res, raw):
                    case["dense_row"] = p["raw_row"]  # the processor changed nothing
                else:
                    rows.append(res.numpy().astype(np.float32))
                    case["dense_row"] = len(rows) - 1
                case["removed_ids"] = torch.nonzero(~finite).flatten().tolist()
                case["top"] = listing[:TOP_LISTED]
                changed = torch.nonzero(res != raw).flatten()
                if changed.numel() <= 64:
                    case["changed_ids"] = changed.tolist()
            else:
                case["kept"] = listing
            case["kept_mass_check"] = float(probs.sum())
            out_cases.append(case)
            print(f"prompt {pi} {name:34s} kept={int(kept.numel()):6d} "
                  f"{'dense row ' + str(case.get('dense_row')) if 'dense_row' in case else ''}")

    blob = np.stack(rows).astype("<f4")
    assert blob.shape[1] == model.config.vocab_size
    bin_path = common.FIXTURES / "processors_logits.f32"
    bin_path.write_bytes(blob.tobytes())
    print(f"wrote tests/fixtures/processors_logits.f32 ({bin_path.stat().st_size} bytes, {blob.shape[0]} rows)")
    fixture = {
        "meta": common.provenance({
            "vocab_size": model.config.vocab_size,
            "eos_token_id": eos,
            "binary": {
                "file": "tests/fixtures/processors_logits.f32",
                "dtype": "float32 little-endian",
                "row_len": model.config.vocab_size,
                "rows": int(blob.shape[0]),
                "layout": "rows 0..len(prompts)-1 are the raw logits (prompts[i].raw_row); "
                          "dense cases point at their processed row with dense_row",
            },
            "kept": "[id, prob, processed_logit]: prob = softmax (float64) over the finite processed "
                    "scores; sorted by prob desc, ties by id",
            "input_ids": "each processor receives the prompt ids (history) as input_ids, batch 1",
            "dense_limit": DENSE_LIMIT,
        }),
        "prompts": prompts,
        "cases": out_cases,
    }
    common.write_json(common.FIXTURES / "processors.json", fixture, indent=None)


if __name__ == "__main__":
    main()
