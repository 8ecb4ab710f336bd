"""sacrebleu sentence-level chrF and BLEU on fixed pairs, for the MBR utility parity test.

Pinned: sacrebleu==2.6.0 (pure Python; needs no GGUF and no torch). Writes
tests/fixtures/mbr_metrics.json, which tests/mbr_metrics.rs compares against
`logitscope::decode::select::metrics::{chrf, sentence_bleu}` to 1e-4.

Each pair is scored as MBR scores U(i, j): `sentence_score(hypothesis=hyp, references=[ref])`
with `CHRF()` (defaults) and `BLEU(effective_order=True)`, both on sacrebleu's 0-100 scale.
The pairs are a fixed list (no randomness), so re-running gives an identical file.

Usage (from the repository root, in a venv outside the repository):
    python3 -m venv ../venv-sacre && ../venv-sacre/bin/pip install sacrebleu==2.6.0
    ../venv-sacre/bin/python scripts/golden/make_mbr_metrics.py
"""

import json
import sys
from pathlib import Path

import sacrebleu
from sacrebleu.metrics import BLEU, CHRF

SACREBLEU_VERSION = "2.6.0"
ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "tests" / "fixtures" / "mbr_metrics.json"

# (hypothesis, reference)
PAIRS = [
    # identical / disjoint / partial overlap
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat on the mat", "a dog ran in the park"),
    ("xyz qrs", "abc def"),
    ("the cat sat on the mat", "the cat is on the mat"),
    ("the quick brown fox jumps over the lazy dog", "the quick brown fox jumped over a lazy dog"),
    ("on the mat the cat sat", "the cat sat on the mat"),
    ("the the the the the the the", "the cat is on the mat"),
    # very short: effective order, brevity penalty
    ("cat", "cat"),
    ("cat", "the cat"),
    ("cat", "dog"),
    ("the cat", "the cat"),
    ("the cat", "cat the"),
    ("a b c", "a b d"),
    ("a b c", "a b c d e f g h"),
    ("a", "a b c d e f g h i j"),
    ("Hi", "Hi there"),
    ("ab", "abc"),
    ("x", "x"),
    # empty and whitespace-only strings
    ("", "the cat sat on the mat"),
    ("the cat sat on the mat", ""),
    ("", ""),
    ("   ", "the cat"),
    ("the cat", " \t\n "),
    # punctuation attached to words (13a splits it), numbers, dashes, quotes, apostrophes
    ("Hello, world!", "Hello world"),
    ("Hello, world!", "Hello, world!"),
    ("(see above)", "see above"),
    ("It costs $1,000.50 today.", "It costs $1,000.50 today."),
    ("It costs $1,000.50 today.", "It costs $1000.50, today"),
    ("Pi is 3.14, roughly.", "Pi is 3.14 roughly ."),
    ("In 2020-2021, sales rose 5.5%.", "In 2020 - 2021 sales rose 5.5 %."),
    ("a well-known, state-of-the-art model", "a well known state of the art model"),
    ("wait -- what? yes -- no", "wait - what ? yes - no"),
    ("He said \"hello\" and left.", "He said hello and left."),
    ("She said 'hi' and didn't stay.", "She said hi and did not stay."),
    ("don't won't can't", "do n't wo n't ca n't"),
    ("U.S.A. e.g., i.e. etc.", "USA e.g. i.e. etc"),
    ("x.y,z 1.2,3 a.1 1.a", "x . y , z 1.2,3 a . 1 1 . a"),
    ("Tom & Jerry &amp; friends &lt;3 &quot;ok&quot;", "Tom & Jerry & friends <3 \"ok\""),
    ("line one <skipped> two", "line one two"),
    ("hyphen-\nated words\nhere", "hyphenated words here"),
    ("trailing spaces   \t\n", "trailing spaces"),
    ("a line break hyphen-\n", "a line break hyphen"),
    ("one\r\ntwo-\r\nthree", "one two-three"),
    ("&amp;lt;tag&amp;gt; &amp;amp;", "<tag> &amp;"),
    ("[brackets] {braces} <angles> @user #tag ~tilde ^caret |pipe|",
     "brackets braces angles user tag tilde caret pipe"),
    # whitespace: multiple spaces, tabs, newlines, unicode spaces
    ("the   cat\tsat\n\non  the mat", "the cat sat on the mat"),
    ("the\u00a0cat\u3000sat\u2009on the\u001fmat", "the cat sat on the mat"),
    ("thecatsat", "the cat sat"),
    # case
    ("The Cat Sat On The Mat", "the cat sat on the mat"),
    ("HELLO WORLD", "hello world"),
    # accented letters, CJK, emoji
    ("Le café est très bon, n'est-ce pas ?", "Le cafe est tres bon, n'est-ce pas?"),
    ("Müller ließ die Tür öffnen.", "Müller ließ die Tür offen."),
    ("我喜欢吃苹果。", "我喜欢吃香蕉。"),
    ("東京は日本の首都です", "東京は日本の首都です"),
    ("I love pizza 🍕🍕 so much 😀", "I love pizza 🍕 so much 😀👍"),
    ("👨\u200d👩\u200d👧 family", "👨\u200d👩\u200d👦 family"),
    ("Привет, мир! Как дела?", "Привет мир! Как твои дела?"),
    # realistic LM continuations that differ by a few words (the MBR case)
    ("The capital of France is Paris, which is known for the Eiffel Tower and its museums.",
     "The capital of France is Paris, which is famous for the Eiffel Tower and its museums."),
    ("The capital of France is Paris, which is known for the Eiffel Tower and its museums.",
     "Paris is the capital of France. It is known for the Eiffel Tower, the Louvre and fine food."),
    ("Once upon a time, there was a little girl who lived in a small village near the forest. "
     "Every day she walked to the river to fetch water for her grandmother.",
     "Once upon a time, there was a little girl who lived in a tiny village near the woods. "
     "Every morning she walked to the river to fetch water for her mother."),
    ("To install the package, run pip install numpy and then import it in your script.",
     "To install the package, run `pip install numpy` and then import it in your Python script."),
    ("Machine learning is a field of artificial intelligence that uses statistical techniques "
     "to give computer systems the ability to learn from data.",
     "Machine learning is a branch of artificial intelligence that uses statistical methods "
     "to give computers the ability to learn from data without being explicitly programmed."),
    ("The weather today is sunny with a high of 25 degrees and a light breeze from the west.",
     "The weather today is cloudy with a high of 18 degrees and a strong wind from the north."),
    ("I think the best way to learn a new language is to practice speaking it every day "
     "with native speakers.",
     "I believe the best way to learn a new language is to practise speaking it daily "
     "with native speakers."),
    ("Water boils at 100 degrees Celsius at sea level, but at higher altitudes it boils "
     "at a lower temperature because the air pressure is lower.",
     "Water boils at 100 degrees Celsius at sea level; at higher altitudes, it boils at a "
     "lower temperature since the atmospheric pressure is lower."),
    ("Sure! Here is a short poem about the sea:\n\nThe waves roll in, the waves roll out,\n"
     "the gulls above them wheel about.",
     "Sure! Here's a short poem about the ocean:\n\nThe waves roll in, the waves roll out,\n"
     "the birds above them wheel and shout."),
    ("The answer is 42.", "The answer is 42"),
    ("The answer is 42.", "I don't know the answer."),
    ("He was born on March 3, 1879, in Ulm, Germany, and died in 1955.",
     "He was born on 14 March 1879 in Ulm, in the Kingdom of Württemberg, and died in 1955."),
]


def main() -> None:
    if sacrebleu.__version__ != SACREBLEU_VERSION:
        sys.exit(f"need sacrebleu=={SACREBLEU_VERSION}, found {sacrebleu.__version__}")
    chrf = CHRF()
    bleu = BLEU(effective_order=True)
    pairs = []
    for hyp, ref in PAIRS:
        pairs.append({
            "hyp": hyp,
            "ref": ref,
            "chrf": chrf.sentence_score(hyp, [ref]).score,
            "bleu": bleu.sentence_score(hyp, [ref]).score,
        })
    doc = {
        "meta": {
            "sacrebleu": sacrebleu.__version__,
            "chrf": "CHRF() defaults",
            "bleu": "BLEU(effective_order=True) sentence_score",
            "chrf_signature": str(chrf.get_signature()),
            "bleu_signature": str(bleu.get_signature()),
            "fields": "pairs[]: hyp, ref, chrf = sentence_score(hyp, [ref]).score, "
                      "bleu likewise; both on the 0-100 scale",
        },
        "pairs": pairs,
    }
    OUT.write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(pairs)} pairs")


if __name__ == "__main__":
    main()
