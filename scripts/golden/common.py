"""Shared helpers for the golden-fixture scripts (run by hand, never in CI).

Every script loads SmolLM2-135M-Instruct from the project's GGUF through Hugging Face
transformers' GGUF loader (weights de-quantized to float32), with eager attention, float32
and a fixed thread count, so the fixtures are reproducible on any x86-64 CPU.
"""

import hashlib
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("TQDM_DISABLE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]
FIXTURES = REPO_ROOT / "tests" / "fixtures"
DEFAULT_GGUF = REPO_ROOT / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

# The GGUF says tokenizer.ggml.add_bos_token = false, but transformers' GGUF tokenizer
# converter ignores that key and builds a LlamaTokenizerFast whose post-processor prepends
# `<|im_start|>` (id 1) as "BOS". The original SmolLM2 tokenizer adds nothing, and neither does
# llama.cpp, so every fixture encodes prompts with add_special_tokens=False.
ADD_SPECIAL_TOKENS = False


def setup(threads: int = 2) -> None:
    torch.manual_seed(0)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except Exception:  # pragma: no cover - older versions
        pass


def gguf_path(argv=None) -> Path:
    """The GGUF given as first CLI argument, else the project default under models/."""
    argv = sys.argv[1:] if argv is None else argv
    p = Path(argv[0]) if argv else DEFAULT_GGUF
    if not p.exists():
        sys.exit(f"GGUF not found: {p} (run scripts/setup.sh first, or pass the path)")
    return p


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def dtype_kwarg(dtype) -> dict:
    """from_pretrained's dtype keyword: `dtype` since transformers 4.56, `torch_dtype` before
    (4.55.4, still needed for DoLa / contrastive search, rejects `dtype`)."""
    major, minor = (int(x) for x in transformers.__version__.split(".")[:2])
    return {"dtype": dtype} if (major, minor) >= (4, 56) else {"torch_dtype": dtype}


def load_smollm2(path: Path, dtype=torch.float32):
    """(tokenizer, model) from the GGUF, eager attention, eval mode."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    digest = sha256(path.resolve())
    if digest != MODEL_SHA256:
        print(f"warning: GGUF sha256 {digest} differs from the pinned {MODEL_SHA256}", file=sys.stderr)
    tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, attn_implementation="eager", **dtype_kwarg(dtype)
    )
    model.eval()
    assert model.config._attn_implementation == "eager"
    return tok, model


def encode(tok, text: str) -> list:
    return tok(text, add_special_tokens=ADD_SPECIAL_TOKENS).input_ids


def provenance(extra=None) -> dict:
    import gguf
    import tokenizers

    d = {
        "generator": "scripts/golden (see scripts/golden/README.md)",
        "model_file": DEFAULT_GGUF.name,
        "model_sha256": MODEL_SHA256,
        "loader": "transformers GGUF loader, weights de-quantized to float32",
        "dtype": "float32",
        "attn_implementation": "eager",
        "threads": torch.get_num_threads(),
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "tokenizers": tokenizers.__version__,
            "gguf": getattr(gguf, "__version__", "unknown"),
            "numpy": np.__version__,
            "python": sys.version.split()[0],
        },
        "add_special_tokens": ADD_SPECIAL_TOKENS,
        "logprob": "natural log, log_softmax of the float32 logits computed in float64",
    }
    if extra:
        d.update(extra)
    return d


def log_softmax64(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.double(), dim=-1)


def r(x, nd=7):
    """Round a float for JSON (keeps fixtures small and diffs readable)."""
    return round(float(x), nd)


def write_json(path: Path, obj, indent=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=indent, separators=(",", ":") if indent is None else None)
        f.write("\n")
    print(f"wrote {path.relative_to(REPO_ROOT)} ({path.stat().st_size} bytes)")
