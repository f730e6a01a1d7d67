"""Byte-level BPE (GPT-2, RoBERTa) inside the TensorFlow graph.

Radford et al. 2019 (section 2.2) run BPE on UTF-8 bytes, so no text is ever
unknown; RoBERTa (Liu et al. 2019, section 4.4) takes that 50K vocabulary. The
reference tokenizer, step by step:

1. split text into words with GPT-2's regex
   ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``;
2. write each UTF-8 byte of a word as a printable character (``bytes_to_unicode``:
   the space byte is ``Ġ``), the names the byte symbols have in ``vocab.json``;
3. repeatedly merge the adjacent pair with the lowest rank in ``merges.txt``, every
   non-overlapping occurrence left to right, until no pair has a rank;
4. look the symbols up in ``vocab.json`` (``<unk>`` where missing).

TensorFlow's regex engine (RE2) has no look-ahead, so step 1 splits whitespace
into single characters and joins them back with tensor ops (``_join_whitespace``).
Steps 2-4 run on integer symbol ids: a pair (a, b) is looked up as ``a * M + b`` in
a hash table of merge ranks, and a ``tf.while_loop`` merges one rank per word and
round, all distinct words of a batch at once. Everything is tensors and
``tf.lookup`` tables, so a SavedModel with this layer takes raw strings.

Special-token strings written in the text (``"<mask>"``) are tokenized as text,
not mapped to their id as the HuggingFace tokenizer does.
"""

import json
import os

import tensorflow as tf
import tensorflow_text as tf_text
import tf_keras as keras

from tfmodels.errors import ConfigError, DataError
from tfmodels.tokenizers.packer import SegmentPacker
from tfmodels.tokenizers.preprocessor import Preprocessor

# ``\s`` of the Python ``regex`` module (Unicode White_Space); RE2's ``\s`` is ASCII only.
_WS = (
    r"\t\n\x{0b}\f\r \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}"
    r"\x{205f}\x{3000}"
)
# GPT-2's pattern with each whitespace character a piece of its own (see _join_whitespace).
_PIECES = rf"'s|'t|'re|'ve|'m|'ll|'d| ?\p{{L}}+| ?\p{{N}}+| ?[^{_WS}\p{{L}}\p{{N}}]+|[{_WS}]"


def bytes_to_unicode():
    """GPT-2's table byte -> printable character: printable Latin-1 bytes stand for
    themselves, the others (space, control bytes) are shifted to U+0100 and up."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table, shifted = {}, 0
    for byte in range(256):
        if byte in printable:
            table[byte] = chr(byte)
        else:
            table[byte] = chr(256 + shifted)
            shifted += 1
    return table


def read_bpe_files(vocab_path, merges_path):
    """``vocab.json`` ({token: id}) and ``merges.txt`` (one ``a b`` pair a line, by rank)."""
    for path in (vocab_path, merges_path):
        if not os.path.isfile(path):
            raise DataError(f"BPE file not found: {path}")
    try:
        with open(vocab_path, encoding="utf-8") as f:
            vocab = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{vocab_path} is not valid JSON: {e}") from None
    if not isinstance(vocab, dict) or not vocab:
        raise DataError(f"{vocab_path} must hold a non-empty {{token: id}} object")
    merges = []
    with open(merges_path, encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.startswith("#version") or not line.strip():
                continue
            pair = line.split()
            if len(pair) != 2:
                raise DataError(
                    f"{merges_path} line {number}: expected two symbols, got {line.rstrip()!r}"
                )
            merges.append(tuple(pair))
    return vocab, merges


def _join_whitespace(pieces):
    """Single whitespace pieces -> the words GPT-2's ``\\s+(?!\\S)|\\s+`` makes of them.

    A whitespace run at the end of a text is one word. A run before other text
    leaves its last character to that text: a space was already taken by
    `` ?\\p{L}+`` and friends (the next piece starts with it), any other character
    is a word of its own.
    """
    flat, rows = pieces.flat_values, pieces.value_rowids()
    is_space = tf.strings.regex_full_match(flat, f"[{_WS}]")
    starts_with_space = tf.strings.regex_full_match(flat, "(?s) .+")
    no = tf.zeros([1], tf.bool)
    same_row_as_next = tf.concat([tf.equal(rows[:-1], rows[1:]), no], 0)
    previous_is_space = tf.concat([no, is_space[:-1] & same_row_as_next[:-1]], 0)
    next_is_text = same_row_as_next & tf.concat([~is_space[1:], no], 0)
    next_took_space = tf.concat([starts_with_space[1:], no], 0)
    left_alone = is_space & next_is_text & ~next_took_space
    joins_previous = is_space & previous_is_space & ~left_alone
    starts_word = tf.cast(~joins_previous, tf.int64)
    words = tf.strings.unsorted_segment_join(
        flat, tf.cumsum(starts_word) - 1, tf.reduce_sum(starts_word)
    )
    return tf.RaggedTensor.from_value_rowids(
        words, tf.boolean_mask(rows, ~joins_previous), nrows=pieces.nrows()
    )


def _non_overlapping(match):
    """Occurrences of one pair, left to right, without overlap: in ``x x x`` the pair
    (x, x) matches twice in a row and only the first of them is merged."""
    m = tf.cast(match, tf.int32)
    before = tf.cumsum(m, axis=1, exclusive=True)  # matches left of each position
    run = tf.cumsum(1 - m, axis=1)  # a new run of adjacent matches after each non-match
    rows, width = tf.shape(m)[0], tf.shape(m)[1]
    segment = run + tf.range(rows)[:, tf.newaxis] * (width + 1)
    first = tf.math.unsorted_segment_min(before, segment, rows * (width + 1))
    return match & (tf.math.floormod(before - tf.gather(first, segment), 2) == 0)


@keras.utils.register_keras_serializable("tfmodels")
class ByteBPETokenizer(keras.layers.Layer):
    """Strings [B] -> ragged int32 token ids [B, (T)], without special tokens.

    ``vocabulary`` is a path to ``vocab.json`` or a ``{token: id}`` dict; ``merges`` a
    path to ``merges.txt`` or a list of ``(a, b)`` pairs, highest priority first.
    ``add_prefix_space`` puts a space before a text that does not start with
    whitespace, so its first word is tokenized like the others.
    """

    def __init__(self, vocabulary, merges, unknown_token="<unk>", add_prefix_space=False, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary, self.merges = vocabulary, merges
        self.unknown_token = unknown_token
        self.add_prefix_space = add_prefix_space
        if isinstance(vocabulary, str) or isinstance(merges, str):
            if not (isinstance(vocabulary, str) and isinstance(merges, str)):
                raise ConfigError(
                    "ByteBPETokenizer: give vocabulary and merges both as paths or both as values"
                )
            token_ids, pairs = read_bpe_files(vocabulary, merges)
        else:
            token_ids, pairs = dict(vocabulary), [tuple(p) for p in merges]
        vocab = [""] * (max(token_ids.values()) + 1)
        for token, index in token_ids.items():
            vocab[index] = token
        self.vocab = vocab  # one assignment: Keras tracks every item set on an attribute
        self._build_tables(token_ids, pairs)

    def _build_tables(self, token_ids, pairs):
        """Symbol ids: the vocabulary's, then extra ids (>= vocab size, ``<unk>`` in the
        output) for byte symbols and merge results the vocabulary lacks."""
        symbols = dict(token_ids)
        extra = []

        def symbol(token):
            if token not in symbols:
                symbols[token] = len(self.vocab) + len(extra)
                extra.append(token)
            return symbols[token]

        byte_ids = [symbol(char) for _, char in sorted(bytes_to_unicode().items())]
        ranks = {}
        for rank, (a, b) in enumerate(pairs):  # a pair listed twice keeps its last rank
            ranks[(symbol(a), symbol(b))] = (rank, symbol(a + b))
        self.num_symbols = len(self.vocab) + len(extra)
        self.num_merges = len(pairs)
        if extra and self.unknown_token not in token_ids:
            missing = extra[:5]
            raise DataError(
                f"the BPE vocabulary lacks symbols the merges make or bytes need "
                f"({', '.join(missing)}) and has no {self.unknown_token!r} token"
            )
        self._unknown_id = token_ids.get(self.unknown_token, 0)
        self._byte_ids = tf.constant(byte_ids, tf.int32)
        keys = [a * self.num_symbols + b for a, b in ranks]
        merged = [0] * max(1, len(pairs))
        for rank, result in ranks.values():
            merged[rank] = result
        self._merged = tf.constant(merged, tf.int32)
        self._ranks = tf.lookup.StaticHashTable(
            tf.lookup.KeyValueTensorInitializer(
                tf.constant(keys, tf.int64),
                tf.constant([rank for rank, _ in ranks.values()], tf.int64),
            ),
            default_value=self.num_merges,
        )

    @property
    def vocab_size(self):
        return len(self.vocab)

    def token_to_id(self, token):
        return self.vocab.index(token)

    def split_words(self, texts):
        """GPT-2's pre-tokenization: strings [B] -> ragged words [B, (W)]."""
        texts = tf.convert_to_tensor(texts, tf.string)
        if self.add_prefix_space:
            texts = tf.where(
                tf.strings.regex_full_match(texts, f"(?s)|[{_WS}].*"),
                texts,
                tf.strings.join([" ", texts]),
            )
        return _join_whitespace(tf_text.regex_split(texts, _PIECES, _PIECES))

    def _merge(self, symbols):
        """One round of BPE on dense symbols [N, L] (-1 = none); returns (symbols, merged?)."""
        left, right = symbols[:, :-1], symbols[:, 1:]
        keys = tf.cast(left, tf.int64) * self.num_symbols + tf.cast(right, tf.int64)
        ranks = tf.cast(self._ranks.lookup(keys), tf.int32)
        ranks = tf.where((left >= 0) & (right >= 0), ranks, self.num_merges)
        best = tf.reduce_min(ranks, axis=1, keepdims=True)
        take = _non_overlapping((ranks == best) & (best < self.num_merges))
        merged = tf.gather(self._merged, tf.minimum(best, tf.size(self._merged) - 1))
        no = tf.zeros([tf.shape(take)[0], 1], tf.bool)
        symbols = tf.concat([tf.where(take, merged, left), symbols[:, -1:]], axis=1)
        keep = ~tf.concat([no, take], axis=1) & (symbols >= 0)
        return tf.ragged.boolean_mask(symbols, keep).to_tensor(-1), tf.reduce_any(take)

    def _encode_words(self, words):
        """Distinct words [U] -> ragged token ids [U, (T)]."""
        raw = tf.strings.bytes_split(words)
        values = tf.reshape(tf.io.decode_raw(raw.flat_values, tf.uint8), [-1])
        symbols = raw.with_flat_values(tf.gather(self._byte_ids, tf.cast(values, tf.int32)))
        symbols, _ = tf.while_loop(
            lambda s, go: go,
            lambda s, go: self._merge(s),
            (symbols.to_tensor(-1), tf.constant(True)),
            shape_invariants=(tf.TensorShape([None, None]), tf.TensorShape([])),
        )
        ids = tf.RaggedTensor.from_tensor(symbols, padding=-1)
        return tf.ragged.map_flat_values(
            lambda x: tf.where(x < self.vocab_size, x, self._unknown_id), ids
        )

    def call(self, texts):
        return self._tokenize(texts)

    @tf.autograph.experimental.do_not_convert  # plain TF ops: converting only costs tracing time
    def _tokenize(self, texts):
        words = self.split_words(tf.reshape(tf.convert_to_tensor(texts, tf.string), [-1]))
        distinct, index = tf.unique(words.flat_values)
        ids = tf.gather(self._encode_words(distinct), index)
        return words.with_flat_values(ids).merge_dims(-2, -1)

    def detokenize(self, ids):
        """Token ids -> list of token strings (byte symbols, ``Ġ`` for a space)."""
        return [self.vocab[i] for i in ids]

    def decode(self, ids):
        """Token ids -> text (Python; invalid UTF-8 is replaced)."""
        to_byte = {char: byte for byte, char in bytes_to_unicode().items()}
        chars = "".join(self.detokenize(ids))
        return bytes(to_byte[c] for c in chars if c in to_byte).decode("utf-8", "replace")

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary=self.vocabulary,
            merges=self.merges,
            unknown_token=self.unknown_token,
            add_prefix_space=self.add_prefix_space,
        )
        return config


@keras.utils.register_keras_serializable("tfmodels")
class ByteBPEPreprocessor(Preprocessor):
    """RoBERTa inputs: ``<s> a </s>`` or ``<s> a </s></s> b </s>``, padded with ``<pad>``,
    segment ids all 0 (one token type). ``style="gpt2"``: the text's ids alone, padded
    with ``pad_token`` (``<|endoftext|>``); see :class:`SegmentPacker`."""

    def __init__(
        self,
        tokenizer,
        seq_length=128,
        cls_token="<s>",
        sep_token="</s>",
        pad_token="<pad>",
        style="roberta",
        **kwargs,
    ):
        if isinstance(tokenizer, dict):
            tokenizer = keras.layers.deserialize(
                tokenizer, custom_objects={"ByteBPETokenizer": ByteBPETokenizer}
            )
        super().__init__(tokenizer, seq_length, cls_token, sep_token, pad_token, **kwargs)
        packer = self.packer
        self.style = style
        self.packer = SegmentPacker(
            seq_length, packer.start_id, packer.end_id, packer.pad_id, style=style
        )

    def get_config(self):
        config = super().get_config()
        config.update(style=self.style)
        return config


def byte_bpe_preprocessor(path, seq_length=128, family=None):
    """The :class:`ByteBPEPreprocessor` of a HF directory with vocab.json and merges.txt.

    Special tokens and ``add_prefix_space`` come from ``tokenizer_config.json`` when it
    has them. RoBERTa numbers positions from ``pad_token_id + 1``, so its texts are
    that much shorter than ``max_position_embeddings``. ``family`` (the
    :class:`Family` of the folder's config.json) decides the packing: GPT-2's has no
    special tokens, ``<|endoftext|>`` (its eos) as padding and unknown token, at most
    ``n_positions`` tokens; without one, RoBERTa's.
    """

    def read(name):
        file = os.path.join(path, name)
        if not os.path.isfile(file):
            return {}
        try:
            with open(file, encoding="utf-8") as f:
                return json.load(f)
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise DataError(f"{file} is not valid JSON: {e}") from None

    def token(value, default):
        value = value or default
        return value.get("content", default) if isinstance(value, dict) else value

    tok = {**read("special_tokens_map.json"), **read("tokenizer_config.json")}
    config = read("config.json")
    gpt2 = family is not None and family.packing == "gpt2"
    limit = config.get("n_positions" if gpt2 else "max_position_embeddings")
    if limit and family is not None and family.positions_after_padding:
        limit -= config.get("pad_token_id", 1) + 1
    if limit and seq_length > limit:
        raise ConfigError(
            f"seq_length {seq_length} exceeds the {limit} positions the model "
            f"has ({os.path.join(path, 'config.json')})"
        )
    eos = token(tok.get("eos_token"), "<|endoftext|>") if gpt2 else None
    tokenizer = ByteBPETokenizer(
        os.path.join(path, "vocab.json"),
        os.path.join(path, "merges.txt"),
        unknown_token=token(tok.get("unk_token"), eos or "<unk>"),
        add_prefix_space=bool(tok.get("add_prefix_space", False)),
    )
    if gpt2:  # HF's GPT-2 tokenizer has no pad token; eos pads (masked out anyway)
        return ByteBPEPreprocessor(
            tokenizer,
            seq_length,
            cls_token=eos,
            sep_token=eos,
            pad_token=token(tok.get("pad_token"), eos),
            style="gpt2",
        )
    return ByteBPEPreprocessor(
        tokenizer,
        seq_length,
        cls_token=token(tok.get("cls_token"), "<s>"),
        sep_token=token(tok.get("sep_token"), "</s>"),
        pad_token=token(tok.get("pad_token"), "<pad>"),
    )
