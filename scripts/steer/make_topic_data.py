#!/usr/bin/env python3
"""Builds the shipped FUDGE/RAD attribute: labelled prefixes of the model's own samples.

1. Samples continuations from SmolLM2-135M-Instruct itself (`logitscope generate --samples 32
   --json`, temperature 1, top-k 50, 32 tokens) for each prompt below and several seeds.
2. Labels each sample 1 when its continuation mentions a science word (scripts/steer/topic.py),
   else 0 -- FUDGE's topic-control setting: the classifier predicts, from a prefix, whether
   the finished continuation will have the attribute.
3. Writes, per sample, the prompt followed by the continuation's first 1, 2, 4, 8, 16 words
   and the whole continuation, each with the sample's label, to assets/probes/science.jsonl.
4. Trains the probe: `logitscope probe train --data assets/probes/science.jsonl --out
   assets/probes/science.probe.json --attribute science`.

Usage: scripts/steer/make_topic_data.py [--bin target/release/logitscope] [--seeds 1] [--rows 32]
"""
import argparse
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
from topic import mentions_science  # noqa: E402

PROMPTS = [
    "Here is an interesting fact:",
    "Let me tell you about something I read today.",
    "My favourite subject at school was",
    "The best way to spend a Sunday is",
    "Yesterday I learned that",
    "A short note about the future:",
]
CUTS = [1, 2, 4, 8, 16]


def samples(binary, prompt, seed, n):
    cmd = [binary, "generate", "--prompt", prompt, "--samples", str(n), "--max-tokens", "32",
           "--temperature", "1", "--top-k", "50", "--seed", str(seed), "--json", "--threads", "2"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        rec = json.loads(line)
        if rec.get("type") == "select":
            return [s["text"] for s in rec["samples"]]
    raise SystemExit("no select record")


def prefixes(prompt, text):
    words = list(re.finditer(r"\S+", text))
    ends = sorted({words[c - 1].end() for c in CUTS if c <= len(words)} | {len(text.rstrip())})
    return [prompt + text[:e] for e in ends if e > 0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="target/release/logitscope")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--rows", type=int, default=32)
    ap.add_argument("--out", default="assets/probes/science.jsonl")
    a = ap.parse_args()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    n_samples = n_pos = n_lines = 0
    with open(a.out, "w") as f:
        for prompt in PROMPTS:
            for seed in range(a.seeds):
                for text in samples(a.bin, prompt, 1000 + seed, a.rows):
                    label = mentions_science(text)
                    n_samples += 1
                    n_pos += label
                    for p in prefixes(prompt, text):
                        f.write(json.dumps({"text": p, "label": label}) + "\n")
                        n_lines += 1
    print(json.dumps({"samples": n_samples, "positive": n_pos, "lines": n_lines}))
    probe = a.out.replace(".jsonl", ".probe.json")
    subprocess.run([a.bin, "probe", "train", "--data", a.out, "--out", probe,
                    "--attribute", "science", "--threads", "2"], check=True)


if __name__ == "__main__":
    main()
