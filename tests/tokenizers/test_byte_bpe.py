"""Byte-level BPE in the graph: the reference tokenizer's ids, RoBERTa packing, SavedModel use.

tests/fixtures/roberta_bpe holds a small BPE (800 tokens) trained on fortunes and
the ids of transformers' RobertaTokenizer (checked against GPT-2's pure-Python
algorithm) on sentences.json, edge cases and fortunes (tools/make_fixtures.py --only roberta_bpe).
"""

import json
import shutil

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
from tfmodels.errors import ConfigError, DataError
from tfmodels.tokenizers import ByteBPEPreprocessor, ByteBPETokenizer, SegmentPacker

VOCAB, MERGES = fixture_path("roberta_bpe", "vocab.json"), fixture_path("roberta_bpe", "merges.txt")


@pytest.fixture(scope="module")
def ref():
    with open(fixture_path("roberta_bpe", "reference.json"), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="module")
def tok():
    return ByteBPETokenizer(VOCAB, MERGES)


def mismatches(texts, got, expected):
    return [t for t, g, e in zip(texts, got, expected) if g != e]


def test_ids_equal_the_reference_tokenizer(tok, ref):
    assert len(ref["texts"]) > 100
    got = tok(tf.constant(ref["texts"])).to_list()
    assert mismatches(ref["texts"], got, ref["ids"]) == []


def test_ids_equal_the_reference_in_a_graph_one_text_at_a_time(tok, ref):
    encode = tf.function(lambda text: tok(text), input_signature=[tf.TensorSpec([None], tf.string)])
    texts, expected = ref["texts"][::3], ref["ids"][::3]
    got = [encode(tf.constant([t])).to_list()[0] for t in texts]
    assert mismatches(texts, got, expected) == []
    # Words of one byte leave nothing to merge: the loop must handle width 1 and 0.
    single = ["a", "!", " ", "\n", ""]
    assert (
        encode(tf.constant(single)).to_list()
        == tok(tf.constant(single)).to_list()
        == [[tok.token_to_id(c)] for c in ("a", "!", "Ġ", "Ċ")] + [[]]
    )


def test_add_prefix_space(ref):
    tok = ByteBPETokenizer(VOCAB, MERGES, add_prefix_space=True)
    got = tok(tf.constant(ref["prefixed_texts"])).to_list()
    assert mismatches(ref["prefixed_texts"], got, ref["prefixed_ids"]) == []


def test_decode_gives_the_text_back(tok, ref):
    ids = tok(tf.constant(ref["texts"])).to_list()
    assert [tok.decode(i) for i in ids] == ref["texts"]  # byte-level BPE loses nothing
    assert tok.detokenize(tok(tf.constant(["Hello world"])).to_list()[0])[-1].startswith("Ġ")


def test_merges_follow_rank_and_leave_unknown_symbols_as_unk():
    vocab = {"<unk>": 0, "a": 1, "b": 2, "ab": 3, "aa": 4, "aaaa": 5}
    tok = ByteBPETokenizer(vocab, [("a", "b"), ("a", "a"), ("aa", "aa")])
    # (a, a) merges left to right without overlap: aaaaa -> aa aa a -> aaaa a.
    assert tok(tf.constant(["aaa", "aaaaa", "abc ab"])).to_list() == [
        [4, 1],
        [5, 1],
        [3, 0, 0, 3],
    ]  # c and the space byte Ġ are not in the vocabulary
    with pytest.raises(DataError, match="has no '<unk>' token"):
        ByteBPETokenizer({"a": 0}, [])


def test_packing_matches_the_reference(tok, ref):
    pre = ByteBPEPreprocessor(tok, seq_length=ref["pack_length"])
    singles = pre(tf.constant(ref["singles"]))
    np.testing.assert_array_equal(singles["input_ids"], ref["singles_input_ids"])
    np.testing.assert_array_equal(singles["input_mask"], ref["singles_input_mask"])
    pairs = pre(
        (tf.constant([a for a, _ in ref["pairs"]]), tf.constant([b for _, b in ref["pairs"]]))
    )
    np.testing.assert_array_equal(pairs["input_ids"], ref["pairs_input_ids"])
    np.testing.assert_array_equal(pairs["input_mask"], ref["pairs_input_mask"])
    assert not pairs["segment_ids"].numpy().any()  # one token type
    first = pairs["input_ids"].numpy()[0][: int(pairs["input_mask"].numpy()[0].sum())]
    assert tok.detokenize(first).count("</s>") == 3  # <s> a </s></s> b </s>
    clone = ByteBPEPreprocessor.from_config(pre.get_config())
    np.testing.assert_array_equal(
        clone(tf.constant(ref["singles"]))["input_ids"], singles["input_ids"]
    )


def test_packer_style_is_checked_and_bert_packing_is_the_default():
    with pytest.raises(ConfigError, match="style 'gpt'"):
        SegmentPacker(8, 0, 2, style="gpt")
    segments = [tf.ragged.constant([[5, 6]]), tf.ragged.constant([[7]])]
    bert = SegmentPacker(8, 101, 102)(segments)
    assert bert["input_ids"].numpy().tolist() == [[101, 5, 6, 102, 7, 102, 0, 0]]
    assert bert["segment_ids"].numpy().tolist() == [[0, 0, 0, 0, 1, 1, 0, 0]]


@pytest.fixture
def roberta_dir(tmp_path):
    """The tiny classifier fixture with the BPE files beside it."""
    target = tmp_path / "roberta"
    shutil.copytree(fixture_path("roberta_tiny_classifier"), target)
    for path in (VOCAB, MERGES):
        shutil.copy(path, target)
    return str(target)


def test_preprocessor_from_pretrained_picks_byte_bpe(roberta_dir):
    pre = tfmodels.preprocessor_from_pretrained(roberta_dir, seq_length=64)
    assert isinstance(pre, ByteBPEPreprocessor)
    row = pre(tf.constant(["Hello world"]))
    assert row["input_ids"].numpy()[0, 0] == 0 and row["input_ids"].numpy()[0, -1] == 1
    with pytest.raises(ConfigError, match="seq_length 65 exceeds the 64 positions"):
        tfmodels.preprocessor_from_pretrained(roberta_dir, seq_length=65)  # 66 - (1 + 1)


def test_bad_bpe_files_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="BPE file not found: .*nowhere.json"):
        ByteBPETokenizer(str(tmp_path / "nowhere.json"), MERGES)
    merges = tmp_path / "merges.txt"
    merges.write_text("#version: 0.2\nĠ t\nh e x\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"merges.txt line 3: expected two symbols"):
        ByteBPETokenizer(VOCAB, str(merges))


def test_saved_model_takes_raw_strings(tmp_path, tok, ref):
    module = tf.Module()
    module.pre = ByteBPEPreprocessor(tok, seq_length=ref["pack_length"])
    module.serve = tf.function(
        lambda text: module.pre(text),
        autograph=False,
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    tf.saved_model.save(module, str(tmp_path / "pre"))
    loaded = tf.saved_model.load(str(tmp_path / "pre"))
    out = loaded.serve(tf.constant(ref["singles"]))
    np.testing.assert_array_equal(out["input_ids"], ref["singles_input_ids"])
