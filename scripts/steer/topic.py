"""The science topic attribute shared by the data and evidence scripts: a text mentions
science when one of these words (or its plural) appears, case-insensitively, as a whole word.
The list follows FUDGE's topic bags of words (Yang & Klein 2021, "science"), trimmed to words a
small model writes."""
import re

SCIENCE_WORDS = [
    "science", "scientist", "scientific", "physics", "chemistry", "biology", "experiment",
    "research", "researcher", "laboratory", "lab", "atom", "molecule", "electron", "energy",
    "theory", "planet", "universe", "galaxy", "telescope", "cell", "dna", "gene", "evolution",
    "quantum", "chemical", "physicist", "biologist", "astronomy", "microscope", "hypothesis",
    "data", "technology", "engineer", "mathematics", "math",
]

_RE = re.compile(r"\b(" + "|".join(SCIENCE_WORDS) + r")(s|es)?\b", re.IGNORECASE)


def mentions_science(text: str) -> bool:
    return _RE.search(text) is not None
