"""The core-TF-ops tokenizers (tfmodels/tokenizers/core_*.py) give the tf-text path's ids.

The reference is the tf-text tokenizer of the same configuration, run on the same
texts: edge cases (accents, CJK, emoji, control characters, long words, empty and
whitespace-only text, invalid UTF-8), random strings of combining marks that NFD
reorders, real fortunes, the fixtures' texts, and every Unicode code point.
"""

import json
import os
import random

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_text as tf_text

import tfmodels
from tests.conftest import fixture_path
from tfmodels.datasets.fortunes import FORTUNES_DIR, read_fortunes
from tfmodels.export.saved_model import core_ops_preprocessor
from tfmodels.tokenizers import (
    ByteBPEPreprocessor,
    ByteBPETokenizer,
    SegmentPacker,
    WordPieceTokenizer,
    normalize_text,
)
from tfmodels.tokenizers.core_byte_bpe import CoreByteBPETokenizer
from tfmodels.tokenizers.core_packer import CoreSegmentPacker
from tfmodels.tokenizers.core_wordpiece import (
    KEEP_DELIMITERS,
    CoreWordPieceTokenizer,
    icu_nfd_tables,
)
from tfmodels.tokenizers.packer import STYLES

VOCAB, MERGES = fixture_path("roberta_bpe", "vocab.json"), fixture_path("roberta_bpe", "merges.txt")
EDGE_CASES = [
    "",
    " ",
    "   \t\n ",
    "\u3000\u00a0\u2028",
    "Hello, World!",
    "Ärger CAFÉ \u200b\x00 🙂 naïve façade Ångström Øresund",
    "straße Größe İstanbul ǅemal ﬁne Ω ™ ½",
    "東京は日本の首都です。北京也是一个大城市。한국어 문장입니다.",
    "Ελληνικά κείμενα και русский текст тоже.",
    "tab\tsep\r\nnew\x0bline\x0cform\x85next\x1fctrl\x7fdel\ufeffbom\ufffdrepl",
    "Don't stop-believing... it's 'quoted' and \"double\"?!  ;;; :::",
    "e\u0301 a\u0308\u0323 \u1e0b\u0323 \u0344 \u0f73 \U0001d15f\U0001d16d\u0301\U0001d165",
    "Supercalifragilisticexpialidocious " + "x" * 99 + " " + "y" * 101 + " " + "é" * 51,
    "emoji 👩\u200d💻 🇩🇪 🙂🙂🙂 \U00020000\U0002a6d6",
    "numbers 1,234.56 7e-3 $21,433 (approx.) 100% #hash @user a_b",
    "'s 't 're 've 'm 'll 'd  'S 'LL",
    "trailing spaces   ",
    "  leading\n\n\nblank lines\n",
]


def fortunes(limit=300):
    """Real texts: lines of Debian's fortunes where installed, else none."""
    texts = []
    for topic in ("computers", "science", "food", "literature", "people"):
        path = os.path.join(FORTUNES_DIR, topic)
        if os.path.isfile(path):
            texts += read_fortunes(path)[: limit // 5]
    return texts


@pytest.fixture(scope="module")
def texts():
    with open(fixture_path("roberta_bpe", "reference.json"), encoding="utf-8") as f:
        reference = json.load(f)["texts"]
    with open(fixture_path("sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    texts = EDGE_CASES + reference + sentences["singles"] + fortunes()
    assert len(texts) > 150
    return texts


def random_texts(pool, count, seed, max_length=30):
    rng = random.Random(seed)
    return [
        "".join(rng.choice(pool) for _ in range(rng.randint(0, max_length))) for _ in range(count)
    ]


def mismatches(texts, got, expected):
    return [(t, g, e) for t, g, e in zip(texts, got, expected) if g != e]


@pytest.fixture(scope="module", params=[True, False], ids=["uncased", "cased"])
def wordpiece(request, minilm_path):
    tok = WordPieceTokenizer(os.path.join(minilm_path, "vocab.txt"), lower_case=request.param)
    return tok, CoreWordPieceTokenizer.from_tokenizer(tok)


def test_wordpiece_ids_equal_tf_text_on_the_minilm_vocabulary(wordpiece, texts):
    tok, core = wordpiece
    texts = [t.encode("utf-8") for t in texts] + [b"caf\xe9 ok", b"ab\x80cd \xff\xfe", b"\xe9t\xe9"]
    got = core(tf.constant(texts)).to_list()
    expected = tok(tf.constant(texts)).to_list()
    assert mismatches(texts, got, expected) == []
    # Real work: thousands of pieces (3.7k from the shipped fixtures, more with fortunes).
    assert sum(map(len, expected)) > 3000
    assert core.vocab_size == tok.vocab_size


def test_nfd_and_accent_stripping_on_every_code_point_and_reordered_marks(wordpiece):
    """Every code point (in runs of 64), then random runs of combining marks, among them
    the marks ``\\p{Mn}`` keeps, whose order NFD's canonical reordering decides."""
    tok, core = wordpiece
    codes = [c for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    runs = ["".join(map(chr, codes[i : i + 64])) for i in range(0, len(codes), 64)]
    got, expected = core.normalize(tf.constant(runs)), normalize_text(runs, tok.lower_case)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    _, reorderings, _ = icu_nfd_tables()
    kept = [x for x, _ in reorderings] + [y for _, ys in reorderings for y in ys]
    assert len(kept) > 20  # the virama-like Mc marks, musical symbols, ...
    pool = [*"aé ÅçA", "\u0301", "\u0334", "\u0327", "\u093c", "\u0941", *kept, "\U0001d15f"]
    marks = random_texts(pool, 1500, seed=1)
    got, expected = core.normalize(tf.constant(marks)), normalize_text(marks, tok.lower_case)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    ids = core(tf.constant(marks)).to_list()
    assert mismatches(marks, ids, tok(tf.constant(marks)).to_list()) == []


def test_basic_split_delimiters_are_tf_texts():
    from tensorflow_text.python.ops import bert_tokenizer

    assert KEEP_DELIMITERS == bert_tokenizer._KEEP_DELIM_NO_WHITESPACE_PATTERN


@pytest.mark.parametrize("max_chars_per_word", [3, 5, 100])
def test_wordpiece_multibyte_pieces_and_the_byte_limit_per_word(max_chars_per_word):
    """A small vocabulary of multi-byte pieces: greedy matching at character
    boundaries, failed words, and tf-text's limit in bytes (not characters)."""
    vocab = ["[UNK]", "é", "##é", "ab", "##c", "c", "東", "##京", "##b", "a", "##a", "ééé", "##x"]
    tok = WordPieceTokenizer(vocab, lower_case=False, max_chars_per_word=max_chars_per_word)
    core = CoreWordPieceTokenizer.from_tokenizer(tok)
    words = random_texts(list("abcéx東京 "), 800, seed=max_chars_per_word, max_length=12)
    expected = tok(tf.constant(words)).to_list()
    assert mismatches(words, core(tf.constant(words)).to_list(), expected) == []
    seen = {i for ids in expected for i in ids}
    assert 0 in seen and seen & {1, 2, 6, 11}  # unknown words and multi-byte pieces


@pytest.fixture(scope="module")
def byte_bpe():
    return {prefix: ByteBPETokenizer(VOCAB, MERGES, add_prefix_space=prefix) for prefix in (0, 1)}


def test_byte_bpe_ids_equal_tf_text(byte_bpe, texts):
    pool = [*"ab Z9'sltmdrve\t\n\r!?.,", "  ", "\u00a0", "\u2028", "\u3000", "é", "東", "🙂"]
    pool += ["\x85", "'ll", "'re", "'S"]
    sample = [t.encode("utf-8") for t in texts + random_texts(pool, 400, seed=2)]
    # Bytes that are not UTF-8, and tf-text's end of a text at a NUL byte.
    sample += [b"ab\x80cd", b"a \xff\xfe b", b"\xe9t\xe9 x", b"a\x00b c", b"\x00ab"]
    for add_prefix_space, texts in ((False, sample), (True, sample[::5])):
        tok = byte_bpe[add_prefix_space]
        core = CoreByteBPETokenizer.from_tokenizer(tok)
        expected = tok(tf.constant(texts)).to_list()
        assert mismatches(texts, core(tf.constant(texts)).to_list(), expected) == []


@pytest.mark.parametrize("style", STYLES)
def test_packer_equals_tf_text(style):
    """Random segment lengths (empty ones included), one or two segments, lengths that
    fit, truncate one segment or both, down to fewer slots than special tokens."""
    rng = np.random.default_rng(3)
    for seq_length in (3, 4, 7, 12):
        packer = SegmentPacker(seq_length, 101, 102, pad_id=7, style=style)
        core = CoreSegmentPacker.from_packer(packer)
        for count in (1, 2):
            segments = [
                tf.ragged.constant(
                    [list(rng.integers(200, 300, rng.integers(0, 14))) for _ in range(40)],
                    dtype=tf.int32,
                    ragged_rank=1,
                )
                for _ in range(count)
            ]
            expected, got = packer(segments), core(segments)
            for key in expected:
                np.testing.assert_array_equal(got[key], expected[key], err_msg=f"{key} {count}")


def test_preprocessor_twins_give_the_same_features(minilm_path, byte_bpe, texts):
    """``core_ops_preprocessor`` (what the export uses): BERT singles and pairs on the
    MiniLM vocabulary, RoBERTa and GPT-2 packing of the byte-level BPE."""
    bert = tfmodels.preprocessor_from_pretrained(minilm_path, seq_length=24)
    roberta = ByteBPEPreprocessor(byte_bpe[False], seq_length=20)
    gpt2 = ByteBPEPreprocessor(
        byte_bpe[False], seq_length=16, cls_token="</s>", sep_token="</s>", style="gpt2"
    )
    sample = texts[::4]
    half = len(sample) // 2
    singles = tf.constant(sample)
    pairs = (tf.constant(sample[:half]), tf.constant(sample[half : 2 * half]))
    # One BPE tokenizer in both; test_packer_equals_tf_text tests each packing.
    for pre, inputs in ((bert, singles), (bert, pairs), (roberta, pairs), (gpt2, singles)):
        core = core_ops_preprocessor(pre)
        assert type(core) is type(pre) and isinstance(core.packer, CoreSegmentPacker)
        assert core.packer.get_config() == pre.packer.get_config()
        expected, got = pre(inputs), core(inputs)
        for key in expected:
            np.testing.assert_array_equal(got[key], expected[key], err_msg=key)


def test_sentencepiece_has_no_core_twin():
    pre = tfmodels.preprocessor_from_pretrained(fixture_path("albert_spiece"), seq_length=16)
    assert core_ops_preprocessor(pre) is None


def op_types(concrete_function):
    graph = concrete_function.graph.as_graph_def()
    ops = {node.op for node in graph.node}
    return ops | {node.op for f in graph.library.function for node in f.node_def}


def test_core_graphs_hold_only_core_ops_and_run(minilm_path, byte_bpe, texts):
    """Every op of the traced core preprocessors, in while-loop bodies too, is one of
    TensorFlow's own (``tf.raw_ops``; tf-text's kernels are not there), and the traced
    function gives the tf-text features, for a batch and for one text at a time."""
    regex_split = tf.function(
        lambda x: tf_text.regex_split(x, " ", " "),
        input_signature=[tf.TensorSpec([None], tf.string)],
    )
    assert op_types(regex_split.get_concrete_function()) - set(dir(tf.raw_ops))  # can fail
    sample = EDGE_CASES + texts[-40:]
    for pre in (
        tfmodels.preprocessor_from_pretrained(minilm_path, seq_length=16),
        ByteBPEPreprocessor(byte_bpe[True], seq_length=16),
    ):
        core = core_ops_preprocessor(pre)
        serve = tf.function(core, input_signature=[tf.TensorSpec([None], tf.string)])
        ops = op_types(serve.get_concrete_function())
        assert ops - set(dir(tf.raw_ops)) == set()
        assert {"While", "StatelessWhile"} & ops  # the loops are in the graph
        expected = {k: v.numpy() for k, v in pre(tf.constant(sample)).items()}
        for key, value in serve(tf.constant(sample)).items():
            np.testing.assert_array_equal(value, expected[key], err_msg=key)
        for row, text in enumerate(EDGE_CASES[:8]):  # batches of one: other shapes
            for key, value in serve(tf.constant([text])).items():
                np.testing.assert_array_equal(value[0], expected[key][row], err_msg=text)
