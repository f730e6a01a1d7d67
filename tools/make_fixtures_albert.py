"""Writes the ALBERT fixtures under tests/fixtures/albert_* (dev-only; never imported by tests).

Two steps, in two environments, tokenizer first:

1. ``--tokenizer``: trains a small SentencePiece unigram model on the Debian fortunes
   (/usr/share/games/fortunes) with ALBERT's special pieces, and records the ids that
   transformers' *slow*, sentencepiece-based ``AlbertTokenizer`` gives for
   tests/fixtures/sentences.json and edge cases. That class exists in transformers 4.x
   only (5.x keeps just the ``tokenizers``-based one), so:
       python3 -m venv /tmp/tok4env
       /tmp/tok4env/bin/pip install "transformers>=4.50,<5" sentencepiece protobuf
       /tmp/tok4env/bin/python tools/make_fixtures_albert.py --tokenizer
2. default: tiny random ALBERT checkpoints (HF layout) and reference outputs, with
   PyTorch + transformers (5.x):
       /work/fixenv/bin/python tools/make_fixtures_albert.py
"""
import argparse
import io
import json
import os
import re
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, randomize, tiny_inputs, torch_inputs  # noqa: E402

FORTUNES = "/usr/share/games/fortunes"
SPIECE_DIR = os.path.join(FIXTURES, "albert_spiece")
PACKED_LENGTH = 16

EDGE_CASES = [
    "``Quoted'' with ``LaTeX'' quotes and '' alone",
    "  leading,   inner   and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand\u00a0no-break\u2003em\u3000ideographic\u2028line spaces",
    "Numbers 1,000 and 10,000,000 and 9,9 and 3,14; 2,500, 0,5",
    "\ufb01ne ligature, x\u00b2 superscript, \u216b numeral, \u00bd fraction, "
    "\uff21\uff22 fullwidth",
    "e\u0301 combining acute, A\u030a ring, n\u0303",
    "\u0130stanbul \u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u0399\u0391",
    "zero\u200bwidth, joiner\u200d, soft\u00adhyphen, bom\ufeff",
    "CamelCaseWordsAndALLCAPS WITH-HYPHENS (and parentheses) \u00a3 \u20ac \u2013 dash",
    "a",
    ",",
    "''",
    "unknown characters: \u6771\u4eac \U0001f642 \u2211 \u00df",
    "a literal \u2581 meta symbol\u2581inside",
    "ha" * 40,
]
CASED_TEXTS = ["Caf\u00e9 D\u00e9j\u00e0 Vu", "UPPER lower MiXeD", "na\u00efve ``quotes''"]


def fortune_texts():
    """One line per fortune, from every topic file except the ASCII-art ones."""
    texts = []
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if "." in name or os.path.islink(path) or name in ("art", "ascii-art"):
            continue
        entry = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in list(f) + ["%\n"]:
                if line.rstrip("\n") == "%":
                    text = re.sub(r"\s+", " ", " ".join(entry)).strip()
                    if text:
                        texts.append(text)
                    entry = []
                else:
                    entry.append(line.strip())
    return texts


def train_spiece(path):
    """ALBERT's spm_train settings (google-research/albert README), 1k pieces.

    Besides ALBERT's user-defined symbols, ``0,`` and ``▁1,`` are user-defined so
    that the reference tokenizer's digit-comma rule has pieces to act on.
    """
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(fortune_texts()), model_writer=model, vocab_size=1000,
        model_type="unigram", pad_id=0, unk_id=1, bos_id=-1, eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        user_defined_symbols=["(", ")", '"', "-", ".", "\u2013", "\u00a3", "\u20ac",
                              "0,", "\u25811,"],
        character_coverage=0.99995, shuffle_input_sentence=False, num_threads=1,
        split_by_number=False, minloglevel=2)
    with open(path, "wb") as f:
        f.write(model.getvalue())


def make_tokenizer():
    import sentencepiece
    import transformers

    if not transformers.__version__.startswith("4."):
        sys.exit("--tokenizer needs transformers 4.x (the slow AlbertTokenizer); see --help")
    os.makedirs(SPIECE_DIR, exist_ok=True)
    model_path = os.path.join(SPIECE_DIR, "spiece.model")
    train_spiece(model_path)
    with open(os.path.join(SPIECE_DIR, "tokenizer_config.json"), "w") as f:
        json.dump({"do_lower_case": True, "keep_accents": False}, f, indent=2)
    tok = transformers.AlbertTokenizer(model_path)
    assert not tok.is_fast
    cased = transformers.AlbertTokenizer(model_path, do_lower_case=False, keep_accents=True)
    with open(os.path.join(FIXTURES, "sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    singles = sentences["singles"] + EDGE_CASES
    pairs = sentences["pairs"] + [["", ""], [EDGE_CASES[0], EDGE_CASES[3]]]

    def packed(*texts):
        row = tok(*texts, max_length=PACKED_LENGTH, truncation="longest_first",
                  padding="max_length")
        return {"input_ids": row["input_ids"], "input_mask": row["attention_mask"],
                "segment_ids": row["token_type_ids"]}

    reference = {
        "versions": {"transformers": transformers.__version__,
                     "sentencepiece": sentencepiece.__version__},
        "vocab_size": tok.vocab_size,
        "packed_length": PACKED_LENGTH,
        "singles": [{"text": t, "ids": tok.encode(t), "packed": packed(t)} for t in singles],
        "pairs": [{"a": a, "b": b, "ids": tok.encode(a, b),
                   "segment_ids": tok(a, b)["token_type_ids"], "packed": packed(a, b)}
                  for a, b in pairs],
        "cased": [{"text": t, "ids": cased.encode(t)} for t in CASED_TEXTS],
    }
    with open(os.path.join(SPIECE_DIR, "reference.json"), "w", encoding="utf-8") as f:
        f.write(_one_item_a_line(reference))
    print("wrote", SPIECE_DIR, "vocab", tok.vocab_size)


def _one_item_a_line(value):
    """JSON with one list item a line: readable diffs without one number a line."""
    lines = []
    for key, item in value.items():
        if isinstance(item, list):
            rows = ",\n  ".join(json.dumps(row, ensure_ascii=False) for row in item)
            lines.append(f"{json.dumps(key)}: [\n  {rows}\n ]")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(item)}")
    return "{\n " + ",\n ".join(lines) + "\n}\n"


TINY = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2,
            num_attention_heads=4, intermediate_size=37, max_position_embeddings=64,
            type_vocab_size=2, hidden_act="gelu_new", hidden_dropout_prob=0.1,
            attention_probs_dropout_prob=0.1)


def make_albert(name, architecture, inputs=None, **overrides):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.AlbertConfig(**{**TINY, **overrides}, architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    ids, mask, types = inputs if inputs is not None else tiny_inputs(np.random.default_rng(0))
    kwargs = torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types)
    randomize(model, kwargs)
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types}
    hidden = getattr(out, "hidden_states", None)
    if architecture == "AlbertModel":
        ref["sequence_output"] = out.last_hidden_state.numpy()
        ref["pooled_output"] = out.pooler_output.numpy()
        # hidden_states[0] is the embedding output; then one per AlbertLayer call.
        ref["encoder_outputs"] = np.stack([h.numpy() for h in hidden[1:]])
    elif architecture == "AlbertForPreTraining":
        ref["sequence_output"] = hidden[-1].numpy()
        ref["mlm_logits"] = out.prediction_logits.numpy()
        ref["sentence_logits"] = out.sop_logits.numpy()
    elif architecture == "AlbertForMaskedLM":
        ref["sequence_output"] = hidden[-1].numpy()
        ref["mlm_logits"] = out.logits.numpy()
    else:
        ref["sequence_output"] = hidden[-1].numpy()
        ref["logits"] = out.logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir, {k: v.shape for k, v in ref.items()})
    return out_dir


def classifier_inputs():
    """Real text through the reference tokenizer (step 1): the end-to-end fixture."""
    with open(os.path.join(SPIECE_DIR, "reference.json"), encoding="utf-8") as f:
        reference = json.load(f)
    rows = reference["singles"][:3] + reference["pairs"][:2]
    packed = [r["packed"] for r in rows]
    arrays = [np.array([p[k] for p in packed], np.int32)
              for k in ("input_ids", "input_mask", "segment_ids")]
    return reference["vocab_size"], arrays, rows


def make_models():
    make_albert("albert_tiny_model", "AlbertModel")
    # 3 layers over 2 groups (layer -> group int(i / 1.5): 0, 0, 1), 2 blocks a group.
    make_albert("albert_tiny_grouped", "AlbertModel", num_hidden_layers=3, num_hidden_groups=2,
                inner_group_num=2, hidden_act="gelu")
    make_albert("albert_tiny_pretraining", "AlbertForPreTraining")
    # embedding_size == hidden_size: the E -> H mapping still exists in ALBERT.
    make_albert("albert_tiny_masked_lm", "AlbertForMaskedLM", embedding_size=32)
    vocab_size, inputs, rows = classifier_inputs()
    out_dir = make_albert("albert_tiny_classifier", "AlbertForSequenceClassification",
                          inputs=inputs, vocab_size=vocab_size, num_labels=3)
    for name in ("spiece.model", "tokenizer_config.json"):
        shutil.copy(os.path.join(SPIECE_DIR, name), os.path.join(out_dir, name))
    with open(os.path.join(out_dir, "texts.json"), "w", encoding="utf-8") as f:
        json.dump([[r["text"]] if "text" in r else [r["a"], r["b"]] for r in rows], f,
                  ensure_ascii=False, indent=1)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", action="store_true",
                        help="train spiece.model and record the slow AlbertTokenizer's ids "
                             "(needs transformers 4.x + sentencepiece)")
    args = parser.parse_args()
    make_tokenizer() if args.tokenizer else make_models()
