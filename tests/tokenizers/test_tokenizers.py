"""WordPiece tokenizer, packer and preprocessor: edge cases, in-graph use, vocab training."""

import os

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.errors import ConfigError, DataError
from tfmodels.tokenizers import (
    Preprocessor,
    WordPieceTokenizer,
    longest_first_lengths,
    read_vocabulary,
)
from tfmodels.tokenizers.vocab_training import train_wordpiece_vocab


def reference_longest_first(len_a, len_b, budget):
    """The reference tokenizer's loop: drop one token from the longer, from b on ties."""
    while len_a + len_b > budget:
        if len_a > len_b:
            len_a -= 1
        else:
            len_b -= 1
    return len_a, len_b


def test_longest_first_closed_form_equals_the_loop():
    grid = [(a, b, n) for a in range(0, 14) for b in range(0, 14) for n in range(0, 20)]
    a, b, n = (tf.constant(v, tf.int64) for v in zip(*grid))
    got_a, got_b = longest_first_lengths(a, b, n)
    expected = [reference_longest_first(*g) for g in grid]
    assert list(zip(got_a.numpy(), got_b.numpy())) == expected


@pytest.fixture(scope="module")
def pre(minilm_path):
    return tfmodels.preprocessor_from_pretrained(minilm_path, seq_length=12)


def tokens(pre, row):
    ids = row["input_ids"].numpy()[0][: int(row["input_mask"].numpy()[0].sum())]
    return pre.tokenizer.detokenize(ids)


def test_empty_and_whitespace_only_text(pre):
    for text in ["", "   \t\n "]:
        row = pre(tf.constant([text]))
        assert tokens(pre, row) == ["[CLS]", "[SEP]"]
        assert row["input_ids"].shape == (1, 12)
        assert row["input_ids"].dtype == tf.int32


def test_long_text_is_truncated_and_ends_with_sep(pre):
    row = pre(tf.constant(["one two three four five six seven eight nine ten eleven twelve"]))
    assert row["input_mask"].numpy().sum() == 12
    assert tokens(pre, row)[-1] == "[SEP]"
    assert tokens(pre, row)[1:4] == ["one", "two", "three"]


def test_pairs_get_segment_ids_and_longest_first_truncation(pre):
    row = pre((tf.constant(["a b"]), tf.constant(["c d e f g h i j k l"])))
    assert tokens(pre, row) == [
        "[CLS]",
        "a",
        "b",
        "[SEP]",
        "c",
        "d",
        "e",
        "f",
        "g",
        "h",
        "i",
        "[SEP]",
    ]
    np.testing.assert_array_equal(
        row["segment_ids"].numpy()[0], [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1]
    )


def test_normalization_and_unknown_characters(pre):
    row = pre(tf.constant(["Ärger CAFÉ \u200b\x00 🙂"]))
    assert tokens(pre, row) == ["[CLS]", "ar", "##ger", "cafe", "[UNK]", "[SEP]"]


def test_runs_inside_tf_function_and_savedmodel(pre, tmp_path):
    module = tf.Module()
    module.pre = pre
    module.serve = tf.function(
        lambda texts: pre(texts), input_signature=[tf.TensorSpec([None], tf.string)]
    )
    expected = pre(tf.constant(["hello world", "tokenizers in graphs"]))
    tf.saved_model.save(module, str(tmp_path))
    assert "vocab.txt" in os.listdir(tmp_path / "assets")
    loaded = tf.saved_model.load(str(tmp_path))
    got = loaded.serve(tf.constant(["hello world", "tokenizers in graphs"]))
    for key in expected:
        np.testing.assert_array_equal(got[key], expected[key])


def test_preprocessor_config_round_trip(pre):
    clone = Preprocessor.from_config(pre.get_config())
    assert clone.get_config() == pre.get_config()
    text = tf.constant(["round trip"])
    np.testing.assert_array_equal(clone(text)["input_ids"], pre(text)["input_ids"])


def test_seq_length_above_max_positions_is_refused(minilm_path):
    with pytest.raises(ConfigError, match="seq_length 1024 exceeds .*512"):
        tfmodels.preprocessor_from_pretrained(minilm_path, seq_length=1024)


def test_missing_vocabulary(tmp_path):
    with pytest.raises(DataError, match="no vocab.txt in"):
        tfmodels.preprocessor_from_pretrained(str(tmp_path))
    with pytest.raises(DataError, match="vocabulary file not found"):
        read_vocabulary(str(tmp_path / "vocab.txt"))


def test_in_memory_vocabulary_and_missing_special_tokens():
    tok = WordPieceTokenizer(["[UNK]", "hello", "##s", "world"])
    assert tok(tf.constant(["hellos world x"])).to_list() == [[1, 2, 3, 0]]
    with pytest.raises(ConfigError, match=r"special token '\[CLS\]'"):
        Preprocessor(tok, seq_length=8)


def test_vocabulary_training(tmp_path):
    corpus = tmp_path / "corpus.txt"
    words = ["transformer", "attention", "embedding", "layer", "token", "Résumé"]
    rng = np.random.default_rng(0)
    corpus.write_text("\n".join(" ".join(rng.choice(words, 8)) for _ in range(300)) + "\n")
    out = tmp_path / "vocab.txt"
    vocab = train_wordpiece_vocab([str(corpus)], vocab_size=200, output_path=str(out))
    assert vocab[:5] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert read_vocabulary(str(out)) == vocab
    tok = WordPieceTokenizer(str(out))
    ids = tok(tf.constant(["attention résumé"])).to_list()[0]
    assert 1 not in ids  # no [UNK]: the trained pieces cover the corpus words
    assert "".join(tok.detokenize(ids)).replace("##", "") == "attentionresume"
    with pytest.raises(DataError, match="corpus file not found"):
        train_wordpiece_vocab([str(tmp_path / "missing.txt")], vocab_size=10)
