#!/usr/bin/env python3
"""Evidence that steering steers, and what it costs in fluency.

For one prompt and 20 seeds, generates 32 tokens (temperature 1, the method's top-k) at three
weights -- 0 and two larger ones -- for FUDGE with the shipped science probe and for RAD with
the sentiment lexicon, then reports per setting:
  * the share of continuations with the attribute (science: a science word, scripts/steer/
    topic.py; sentiment: a positive summed VADER valence of the continuation's words),
  * the mean perplexity of the outputs under the plain model: exp(-mean over the generated
    tokens of the JSON's "logprob"), which is the log-softmax of the RAW model logits at each
    step (the model's own distribution given the same prefix; steering only changes the chain
    after them), i.e. a teacher-forced score of the output by the unsteered model,
  * the wall time per generated token (model load included; the first row, plain top-k
    sampling without steering, is the baseline; its attribute column is the science test).
Prints a Markdown table. Usage: scripts/steer/steer_effect.py [--bin target/release/logitscope]
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from topic import mentions_science  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def lexicon():
    table = {}
    with open(os.path.join(ROOT, "assets/lexicons/vader_valence.tsv")) as f:
        for line in f:
            w, v = line.rstrip("\n").split("\t")
            table[w] = float(v) / 4.0
    return table


def positive(text, lex):
    import re
    words = [w.strip("'").lower() for w in re.split(r"[^A-Za-z']+", text) if re.search("[A-Za-z]", w)]
    return sum(lex.get(w, 0.0) for w in words) > 0


def run(binary, prompt, seed, tokens, extra):
    cmd = [binary, "generate", "--prompt", prompt, "--seed", str(seed), "--max-tokens",
           str(tokens), "--temperature", "1", "--json", "--threads", "2"] + extra
    t0 = time.time()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.time() - t0
    steps = [json.loads(l) for l in out.splitlines()]
    lps = [s["logprob"] for s in steps if s["type"] == "step"]
    text = next(s["text"] for s in steps if s["type"] == "done")
    return text, lps, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/logitscope")
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--topk", type=int, default=50)
    ap.add_argument("--prompt", default="Tell me about your weekend.")
    ap.add_argument("--only", choices=["fudge", "rad"], default=None)
    ap.add_argument("--no-plain", action="store_true", help="skip the unsteered baseline row")
    a = ap.parse_args()
    probe = os.path.join(ROOT, "assets/probes/science.probe.json")
    lex = lexicon()
    settings = [] if a.no_plain else [
        ("plain top-k (no steering)", "", None, ["--top-k", str(a.topk)], mentions_science)]
    if a.only in (None, "fudge"):
        for lam in [0.0, 2.0, 5.0]:
            settings.append(("FUDGE science", "λ", lam, ["--fudge", probe, "--fudge-lambda", str(lam),
                                                       "--fudge-topk", str(a.topk)], mentions_science))
    if a.only in (None, "rad"):
        for beta in [0.0, 3.0, 8.0]:
            settings.append(("RAD sentiment lexicon", "β", beta, ["--reward", "lexicon:sentiment",
                             "--reward-beta", str(beta), "--reward-topk", str(a.topk)],
                             lambda t: positive(t, lex)))
    print(f"prompt {a.prompt!r}, {a.seeds} seeds, {a.tokens} tokens, temperature 1, top-k {a.topk}\n")
    print("| method | weight | share with attribute | perplexity under the plain model (mean ± sd) | wall s / token (incl. load) |")
    print("|---|---|---|---|---|")
    for name, sym, w, extra, has in settings:
        hits, ppls, walls, ntok = 0, [], 0.0, 0
        for seed in range(a.seeds):
            text, lps, wall = run(a.bin, a.prompt, seed, a.tokens, extra)
            hits += has(text)
            ppls.append(math.exp(-sum(lps) / len(lps)))
            walls += wall
            ntok += len(lps)
        m = sum(ppls) / len(ppls)
        sd = math.sqrt(sum((p - m) ** 2 for p in ppls) / (len(ppls) - 1))
        weight = "–" if w is None else f"{sym} = {w:g}"
        print(f"| {name} | {weight} | {hits}/{a.seeds} | {m:.1f} ± {sd:.1f} | {walls / ntok:.3f} |",
              flush=True)


if __name__ == "__main__":
    main()
