"""Chat-template reference: Hugging Face `apply_chat_template(..., add_generation_prompt=True)`
on the project's GGUF tokenizer (its `tokenizer.chat_template`), text and ids.

Writes tests/fixtures/chat.json.
Usage: python scripts/golden/make_chat.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""

import json

import common  # noqa: I001  (first: sets the offline/quiet environment)
import transformers
from transformers import AutoTokenizer

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about the sea.",
    "Explain, step by step: 17 × 23 = ?",
    "Ünïcödé, emoji 🙂 and\nnew lines\tand tabs.",
    "",
]


def main():
    common.setup()
    path = common.gguf_path()
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    cases = []
    for p in PROMPTS:
        messages = [{"role": "user", "content": p}]
        text = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tok.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        cases.append({"prompt": p, "text": text, "ids": list(ids)})
    out = {
        "meta": {
            "script": "scripts/golden/make_chat.py",
            "transformers": transformers.__version__,
            "gguf_sha256": common.sha256(path.resolve()),
            "template_source": "GGUF tokenizer.chat_template",
            "call": "apply_chat_template([{'role': 'user', 'content': prompt}], add_generation_prompt=True)",
        },
        "cases": cases,
    }
    dest = common.FIXTURES / "chat.json"
    dest.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    main()
