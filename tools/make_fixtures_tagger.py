"""Writes the token-classification parity fixtures tests/fixtures/*_tiny_tagger
(dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_tagger.py

One tiny random ``...ForTokenClassification`` checkpoint (HF layout) per encoder family
that has the head, with CoNLL-2003's BIO labels as ``id2label``, and reference.npz with
the inputs, ``sequence_output`` and the reference ``logits`` [B, S, C]: the writer and
the family table of tools/make_fixtures_qa.py.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures_qa import FAMILIES, make_head  # noqa: E402

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
NAMES = {"id2label": dict(enumerate(LABELS)),
         "label2id": {name: i for i, name in enumerate(LABELS)}}


if __name__ == "__main__":
    for name in FAMILIES:
        make_head(name, "tagger", "ForTokenClassification", lambda out: {"logits": out.logits},
                  **NAMES)
