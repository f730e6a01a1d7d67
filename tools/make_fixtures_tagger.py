"""Writes the token-classification parity fixtures (dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_tagger.py

``bert_tiny_tagger`` (BertForTokenClassification) and ``electra_tiny_tagger``
(ElectraForTokenClassification, E != H): tiny random checkpoints in the HF layout with
non-zero biases and CoNLL-2003's BIO labels as ``id2label``, and reference.npz with the
inputs of tools/make_fixtures.py ``tiny_inputs`` and the reference ``logits`` [B, S, C].
The writers are those of the other fixture scripts, reused.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import make_bert  # noqa: E402
from make_fixtures_electra_distilbert import ELECTRA, make  # noqa: E402

LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
NAMES = {"id2label": dict(enumerate(LABELS)), "label2id": {l: i for i, l in enumerate(LABELS)}}


if __name__ == "__main__":
    make_bert("bert_tiny_tagger", "BertForTokenClassification", **NAMES)
    make("electra_tiny_tagger", "ElectraConfig", "ElectraForTokenClassification",
         {**ELECTRA, **NAMES}, lambda out: {"logits": out.logits})
