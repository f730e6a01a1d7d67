"""GPT-2 packing: a GPT-2 folder's preprocessor gives the BPE ids alone, eos-padded.

No real GPT-2 vocabulary is available offline; the roberta_bpe fixture (whose ids
are the HF tokenizer's, see test_byte_bpe.py) plus an ``<|endoftext|>`` token
stands in for it: GPT-2 and RoBERTa share the byte-level BPE algorithm.
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
from tfmodels.errors import ConfigError
from tfmodels.tokenizers import ByteBPEPreprocessor

SEQ = 12


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("gpt2_bpe")
    with open(fixture_path("roberta_bpe", "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    vocab["<|endoftext|>"] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    shutil.copy(fixture_path("roberta_bpe", "merges.txt"), path / "merges.txt")
    (path / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 16}))
    return str(path)


@pytest.fixture(scope="module")
def ref():
    with open(fixture_path("roberta_bpe", "reference.json"), encoding="utf-8") as f:
        return json.load(f)


def test_features_are_the_bpe_ids_without_specials_padded_with_eos(gpt2_dir, ref):
    pre = tfmodels.preprocessor_from_pretrained(gpt2_dir, SEQ)
    assert isinstance(pre, ByteBPEPreprocessor) and pre.packer.style == "gpt2"
    eos = pre.tokenizer.token_to_id("<|endoftext|>")
    texts, expected = ref["texts"][:40], ref["ids"][:40]
    assert {len(e) > SEQ for e in expected} == {True, False}  # some truncated, some padded
    features = {k: v.numpy() for k, v in pre(tf.constant(texts)).items()}
    for row, ids in enumerate(expected):
        n = min(len(ids), SEQ)
        assert list(features["input_ids"][row, :n]) == ids[:n], texts[row]
        assert set(features["input_ids"][row, n:]) <= {eos}
        assert list(features["input_mask"][row]) == [1] * n + [0] * (SEQ - n)
    assert not features["segment_ids"].any()
    # A pair is the two texts back to back (longest-first truncation), still no specials.
    pair = pre((tf.constant(["Hello world"]), tf.constant(["Good bye"])))
    a, b = pre.tokenizer(tf.constant(["Hello world", "Good bye"])).to_list()
    assert pair["input_ids"].numpy()[0, : len(a) + len(b)].tolist() == a + b
    clone = ByteBPEPreprocessor.from_config(pre.get_config())
    np.testing.assert_array_equal(clone(tf.constant(texts))["input_ids"], features["input_ids"])


def test_sequence_longer_than_n_positions_is_refused(gpt2_dir):
    with pytest.raises(ConfigError, match="exceeds the 16 positions"):
        tfmodels.preprocessor_from_pretrained(gpt2_dir, 17)
