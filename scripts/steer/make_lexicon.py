#!/usr/bin/env python3
"""Derives assets/lexicons/vader_valence.tsv from the VADER lexicon (MIT licence).

Source: the PyPI package vaderSentiment==3.3.2 (`pip download --no-deps vaderSentiment==3.3.2`,
unzip the wheel), file vaderSentiment/vader_lexicon.txt. Kept: entries that are plain lower-case
words (letters and apostrophes), with their mean valence (-4..4). Emoticons are dropped.
Usage: make_lexicon.py path/to/vader_lexicon.txt > assets/lexicons/vader_valence.tsv
"""
import re
import sys

for line in open(sys.argv[1], encoding="utf-8"):
    word, valence = line.rstrip("\n").split("\t")[:2]
    if re.fullmatch(r"[a-z][a-z']*", word):
        print(f"{word}\t{float(valence)}")
