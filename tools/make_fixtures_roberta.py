"""Writes the RoBERTa fixtures under tests/fixtures/roberta_* (dev-only; never imported by tests).

Needs PyTorch + transformers + tokenizers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_roberta.py --bpe --models

``--bpe``: trains a small byte-level BPE (``tokenizers``) on fortune files and writes
tests/fixtures/roberta_bpe/{vocab.json, merges.txt, reference.json}: the reference
tokenizer's ids on tests/fixtures/sentences.json, edge cases and fortunes. The ids
come from transformers' ``RobertaTokenizer``; since transformers 5 that class runs
the Rust ``tokenizers`` library, so the ids are also computed with the original
pure-Python algorithm (GPT-2's encoder.py, as in transformers 4's slow tokenizer)
and the script stops if the two disagree on any text.
``--models``: tiny random RobertaModel / RobertaForMaskedLM /
RobertaForSequenceClassification checkpoints with reference.npz (as tools/make_fixtures.py).
"""
import argparse
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, randomize, tiny_inputs, torch_inputs  # noqa: E402

BPE_DIR = os.path.join(FIXTURES, "roberta_bpe")
SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0..4 (roberta-base: <mask> last)
FORTUNE_FILES = ["computers", "science", "literature", "people", "wisdom", "linux"]
PACK_LENGTH = 24

EDGE_CASES = [
    "Hello world", " Hello world", "Hello world ", "  two leading", "trailing two  ",
    "a  b   c    d", "tab\tafter\t\tword", "new\nline\n\nblank\n", "\n", " ", "   ", "\t \n",
    "a \nb", "a\n b", "a\t b", "a \tb", "\r\nwindows\r\n", "x \u00a0y", "x\u00a0\u00a0y",
    "ideographic\u3000space", "zero\u200bwidth\u200bspace", "line\u2028separator",
    "vertical\x0btab and form\x0cfeed", "unit\x1fseparator and \x1cfile",
    "it's I'm we'll they'd you've we're", "IT'S DON'T I'M", "'s at the start", "x 's", "a  's",
    "quote' s", "don\u2019t curly", "''''", "rock 'n' roll", "1's and 2'll",
    "123 4567 3.14 1,000,000 \u00bd \u2163 \u0663\u0664", "!!!???... ,,; --- ***",
    "C++ and C# and F#", "snake_case camelCase kebab-case",
    "\u00e9\u00e8\u00ea e\u0301 \u00c5ngstr\u00f6m", "\u6771\u4eac\u3068\u5317\u4eac",
    "\ud55c\uad6d\uc5b4 \u0440\u0443\u0441\u0441\u043a\u0438\u0439 "
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea",
    "emoji \U0001f642\U0001f389\U0001f44d\U0001f3fd family "
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 flag \U0001f1eb\U0001f1f7",
    "math \u2211\u221e\u2260 \U0001d400\U0001d401", "control \x07 bell \x7f del",
    "replacement \ufffd char", "aaaaaaaa bbbbbbbbbbbb", "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
    "thethethethe the the", "x" * 300,
]


def bytes_to_unicode():
    """GPT-2's byte -> printable character table (written out, as in encoder.py)."""
    bs = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("\u00a1"), ord("\u00ac") + 1))
          + list(range(ord("\u00ae"), ord("\u00ff") + 1)))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class PythonByteBPE:
    """GPT-2's encoder.py (and transformers 4's slow RobertaTokenizer), without special tokens."""

    def __init__(self, vocab_file, merges_file):
        import regex

        with open(vocab_file, encoding="utf-8") as f:
            self.encoder = json.load(f)
        with open(merges_file, encoding="utf-8") as f:
            merges = [tuple(m.split()) for m in f.read().split("\n")[1:-1]]
        self.ranks = dict(zip(merges, range(len(merges))))
        self.byte_encoder = bytes_to_unicode()
        self.pat = regex.compile(
            r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def bpe(self, token):
        word = tuple(token)
        while len(word) > 1:
            pairs = set(zip(word, word[1:]))
            bigram = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if bigram not in self.ranks:
                break
            first, second = bigram
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    new.append(first + second)
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = tuple(new)
        return word

    def encode(self, text, add_prefix_space=False):
        if add_prefix_space and text and not text[0].isspace():
            text = " " + text
        ids = []
        for token in self.pat.findall(text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            ids.extend(self.encoder.get(t, self.encoder["<unk>"]) for t in self.bpe(token))
        return ids


def fortunes():
    texts = []
    for name in FORTUNE_FILES:
        with open(os.path.join("/usr/share/games/fortunes", name), encoding="utf-8",
                  errors="replace") as f:
            texts.extend(t.strip("\n") for t in f.read().split("\n%\n") if t.strip())
    return texts


def make_bpe():
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    os.makedirs(BPE_DIR, exist_ok=True)
    corpus = [os.path.join("/usr/share/games/fortunes", n) for n in FORTUNE_FILES]
    trainer = ByteLevelBPETokenizer()
    trainer.train(corpus, vocab_size=800, min_frequency=2, special_tokens=SPECIAL,
                  show_progress=False)
    trainer.save_model(BPE_DIR)
    vocab_file, merges_file = (os.path.join(BPE_DIR, n) for n in ("vocab.json", "merges.txt"))

    with open(os.path.join(FIXTURES, "sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    every = fortunes()
    texts = sentences["singles"] + [t for pair in sentences["pairs"] for t in pair] + \
        EDGE_CASES + every[::max(1, len(every) // 60)][:60]
    hf = transformers.RobertaTokenizer.from_pretrained(BPE_DIR)
    python = PythonByteBPE(vocab_file, merges_file)
    ids = []
    for text in texts:
        with_specials = hf(text)["input_ids"]
        assert with_specials[0] == 0 and with_specials[-1] == 2, text
        reference = python.encode(text)
        if with_specials[1:-1] != reference:
            print(f"transformers {transformers.__version__} and the Python algorithm differ on "
                  f"{text!r}:\n  {with_specials[1:-1]}\n  {reference}")
            sys.exit(1)
        ids.append(reference)
    prefixed_texts = ["Hello world", "it's", "123 go", "", " already spaced"]
    hf_prefixed = transformers.RobertaTokenizer.from_pretrained(BPE_DIR, add_prefix_space=True)
    prefixed = [python.encode(t, add_prefix_space=True) for t in prefixed_texts]
    assert prefixed == [hf_prefixed(t)["input_ids"][1:-1] for t in prefixed_texts]
    pairs = sentences["pairs"]
    packed = hf([a for a, _ in pairs], [b for _, b in pairs], max_length=PACK_LENGTH,
                truncation="longest_first", padding="max_length")
    singles = hf(sentences["singles"], max_length=PACK_LENGTH, truncation=True,
                 padding="max_length")
    reference = {
        "source": f"transformers {transformers.__version__} RobertaTokenizer, checked against "
                  "GPT-2's Python BPE",
        "texts": texts, "ids": ids,
        "prefixed_texts": prefixed_texts, "prefixed_ids": prefixed,
        "pack_length": PACK_LENGTH,
        "singles": sentences["singles"], "singles_input_ids": singles["input_ids"],
        "singles_input_mask": singles["attention_mask"],
        "pairs": pairs, "pairs_input_ids": packed["input_ids"],
        "pairs_input_mask": packed["attention_mask"],
    }
    with open(os.path.join(BPE_DIR, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, ensure_ascii=True, indent=0)
    print(f"wrote {BPE_DIR}: {len(trainer.get_vocab())} tokens, {len(texts)} reference texts")


# Without vocab_size: the fixtures take the BPE fixture's, so that they run on its ids.
TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=66, type_vocab_size=1, layer_norm_eps=1e-5,
            pad_token_id=1, bos_token_id=0, eos_token_id=2)


def roberta_inputs(vocab_size):
    """tools/make_fixtures.py ``tiny_inputs`` as RoBERTa ids: <s> first, <pad> (1) at
    padding only, since the reference numbers positions by counting non-<pad> ids; one
    token type."""
    ids, mask, _ = tiny_inputs(np.random.default_rng(0), vocab=vocab_size)
    ids[ids == 1] = 5
    ids[:, 0] = 0  # <s>
    ids[mask == 0] = 1  # <pad>
    return ids, mask, np.zeros_like(ids)


def make_roberta(name, architecture, vocab_size, num_labels=None):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.RobertaConfig(
        vocab_size=vocab_size, **TINY, architectures=[architecture],
        **({"num_labels": num_labels} if num_labels else {}))
    model = getattr(transformers, architecture)(config).eval()
    ids, mask, types = roberta_inputs(vocab_size)
    kwargs = torch_inputs(input_ids=ids, attention_mask=mask)
    randomize(model, kwargs)
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types,
           "num_parameters": np.int64(model.num_parameters())}
    if architecture == "RobertaModel":
        ref["sequence_output"] = out.last_hidden_state.numpy()
        ref["pooled_output"] = out.pooler_output.numpy()
        ref["encoder_outputs"] = np.stack([h.numpy() for h in out.hidden_states[1:]])
    elif architecture == "RobertaForMaskedLM":
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["mlm_logits"] = out.logits.numpy()
    else:
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["logits"] = out.logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir, sorted(os.listdir(out_dir)))


def make_models():
    with open(os.path.join(BPE_DIR, "vocab.json"), encoding="utf-8") as f:
        vocab_size = len(json.load(f))  # so the classifier runs on the BPE fixture's ids
    make_roberta("roberta_tiny_model", "RobertaModel", vocab_size)
    make_roberta("roberta_tiny_masked_lm", "RobertaForMaskedLM", vocab_size)
    make_roberta("roberta_tiny_classifier", "RobertaForSequenceClassification", vocab_size,
                 num_labels=3)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bpe", action="store_true")
    parser.add_argument("--models", action="store_true")
    args = parser.parse_args()
    if args.bpe:
        make_bpe()
    if args.models:
        make_models()
