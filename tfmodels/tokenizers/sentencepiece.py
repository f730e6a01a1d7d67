"""SentencePiece tokenization inside the TensorFlow graph, with ALBERT's text normalization.

ALBERT (Lan et al. 2020, section 4.1) tokenizes with a 30k SentencePiece unigram
model (Kudo & Richardson 2018). The reference tokenizer (google-research/albert
``tokenization.py``, HF's sentencepiece-based ``AlbertTokenizer``) prepares the
text before SentencePiece sees it: whitespace runs collapse to one space, ````
and ``''`` become ``"``, accents are stripped (NFKD, then combining marks dropped)
unless ``keep_accents``, and the text is lowercased. SentencePiece then applies
the model's own normalizer (NFKC by default). Last, a piece that ends in a digit
and a comma (``"▁9,"``) is split again so that ``9,9`` is ``▁9 , 9`` (BERT's
number rule). Those pieces are known from the vocabulary alone, so that step is a
lookup in a precomputed table of replacements.

Everything is TF ops (tensorflow-text's ``SentencepieceTokenizer`` holds the model
proto), so an exported SavedModel takes raw strings. Special-token strings typed
into the text (``"[MASK]"``) stay ordinary text here; the reference tokenizer maps
them to their ids.
"""

import functools
import os
import sys
import unicodedata

import tensorflow as tf
import tensorflow_text as tf_text
import tf_keras as keras

from tfmodels.errors import DataError
from tfmodels.tokenizers.preprocessor import Preprocessor

SPIECE_UNDERLINE = "\u2581"


def _char_class(predicate):
    """An RE2 character class of the code points where ``predicate(chr)`` holds."""
    ranges, start, previous = [], None, None
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF or not predicate(chr(code)):
            continue
        if previous is not None and code == previous + 1:
            previous = code
            continue
        if start is not None:
            ranges.append((start, previous))
        start = previous = code
    ranges.append((start, previous))
    return (
        "["
        + "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)
        + "]"
    )


@functools.lru_cache(maxsize=None)
def _reference_char_classes():
    """Python's ``str.split()`` whitespace and ``unicodedata.combining`` marks, which the
    reference tokenizer uses (RE2's ``\\s`` and ``\\p{Mn}`` are different sets)."""
    return _char_class(str.isspace), _char_class(lambda c: unicodedata.combining(c) != 0)


def albert_normalize(texts, lower_case=True, keep_accents=False):
    """ALBERT's ``preprocess_text`` as TF ops on a string tensor."""
    whitespace, combining = _reference_char_classes()
    texts = tf.strings.regex_replace(texts, whitespace + "+", " ")
    texts = tf.strings.regex_replace(texts, "^ | $", "")
    texts = tf.strings.regex_replace(texts, "``", '"')
    texts = tf.strings.regex_replace(texts, "''", '"')
    if not keep_accents:
        texts = tf_text.normalize_utf8(texts, "NFKD")
        texts = tf.strings.regex_replace(texts, combining, "")
    if lower_case:
        texts = tf.strings.lower(texts, encoding="utf-8")
    return texts


def _read_model(path):
    if not os.path.isfile(path):
        raise DataError(f"SentencePiece model not found: {path}")
    with open(path, "rb") as f:
        return f.read()


@keras.saving.register_keras_serializable(package="tfmodels")
class SentencePieceTokenizer(keras.layers.Layer):
    """Strings [B] -> ragged int32 piece ids [B, (T)], without special tokens.

    ``model_file`` is a SentencePiece ``.model`` proto (ALBERT's ``spiece.model``);
    its bytes are embedded in the graph, so a SavedModel needs no asset file.
    """

    def __init__(self, model_file, lower_case=True, keep_accents=False, **kwargs):
        super().__init__(**kwargs)
        self.model_file = model_file
        self.lower_case = lower_case
        self.keep_accents = keep_accents
        proto = _read_model(model_file)
        try:
            self._sp = tf_text.SentencepieceTokenizer(proto, out_type=tf.int32)
            size = int(self._sp.vocab_size())
        except tf.errors.OpError:
            raise DataError(f"{model_file} is not a SentencePiece model") from None
        self.vocab = [
            p.decode("utf-8") for p in self._sp.id_to_string(tf.range(size)).numpy().tolist()
        ]
        self._ids = {piece: i for i, piece in enumerate(self.vocab)}
        self._splits = self._number_comma_splits()

    @property
    def vocab_size(self):
        return len(self.vocab)

    def token_to_id(self, token):
        """The id of a piece; unknown pieces get the unknown id, as SentencePiece does."""
        return self._ids[token] if token in self._ids else int(self._sp.string_to_id(token))

    def _number_comma_splits(self):
        """Ragged [V, (k)] replacement ids for pieces like ``"▁9,"``; None if there are none.

        The reference re-encodes the piece without its comma and underline, drops
        the new leading underline when the piece had none, and appends ``","``.
        """
        rows, found = [], False
        for i, piece in enumerate(self.vocab):
            if not (len(piece) > 1 and piece[-1] == "," and piece[-2].isdigit()):
                rows.append([i])
                continue
            found = True
            ids = self._sp.tokenize(piece[:-1].replace(SPIECE_UNDERLINE, "")).numpy().tolist()
            first = self.vocab[ids[0]] if ids else ""
            if piece[0] != SPIECE_UNDERLINE and first.startswith(SPIECE_UNDERLINE):
                ids = ids[1:] if len(first) == 1 else [self.token_to_id(first[1:])] + ids[1:]
            rows.append(ids + [self.token_to_id(",")])
        if not found:
            return None
        return tf.RaggedTensor.from_row_lengths(
            tf.constant([i for row in rows for i in row], tf.int32), [len(r) for r in rows]
        )

    def call(self, texts):
        texts = albert_normalize(
            tf.convert_to_tensor(texts, tf.string), self.lower_case, self.keep_accents
        )
        ids = self._sp.tokenize(texts)
        if self._splits is not None:
            pieces = tf.gather(self._splits, ids.flat_values)  # [N, (k)]
            ids = tf.RaggedTensor.from_row_lengths(pieces, ids.row_lengths()).merge_dims(1, 2)
        return ids

    def detokenize(self, ids):
        """Piece ids -> list of piece strings (for inspection and tests)."""
        return [self.vocab[i] for i in ids]

    def decode(self, ids):
        """Piece ids -> text, by SentencePiece itself (pieces joined, ``▁`` a space).
        Ids past the model's pieces (T5's ``<extra_id_N>`` sentinels) are left out."""
        ids = [i for i in ids if 0 <= i < len(self.vocab)]
        if not ids:
            return ""
        return (
            self._sp.detokenize(tf.constant([ids], tf.int32))
            .numpy()[0]
            .decode("utf-8", errors="replace")
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            model_file=self.model_file, lower_case=self.lower_case, keep_accents=self.keep_accents
        )
        return config


def sentencepiece_preprocessor(path, seq_length):
    """Tokenizer + ``[CLS] A [SEP] B [SEP]`` packer for a directory with ``spiece.model``.

    ``do_lower_case`` and ``keep_accents`` come from ``tokenizer_config.json`` when
    present (HF defaults: True, False).
    """
    from tfmodels.convert.pretrained import read_json
    from tfmodels.tokenizers.preprocessor import Preprocessor

    options = {}
    config_path = os.path.join(path, "tokenizer_config.json")
    if os.path.isfile(config_path):
        options = read_json(config_path)
    tokenizer = SentencePieceTokenizer(
        os.path.join(path, "spiece.model"),
        lower_case=bool(options.get("do_lower_case", True)),
        keep_accents=bool(options.get("keep_accents", False)),
    )
    return Preprocessor(
        tokenizer, seq_length=seq_length, cls_token="[CLS]", sep_token="[SEP]", pad_token="<pad>"
    )


@keras.saving.register_keras_serializable(package="tfmodels")
class T5Preprocessor(Preprocessor):
    """T5 (Raffel et al. 2020, section 2.2): cased SentencePiece pieces then ``</s>``,
    right-padded with ``<pad>`` (id 0); a pair is ``a </s> b </s>``. That is BERT's
    ``[CLS] a [SEP]`` packed one slot longer with the first slot dropped, so a cut text
    keeps its ``</s>`` as HF's T5 tokenizer does. T5 has no token types: segment_ids are 0.
    """

    def __init__(self, tokenizer, seq_length=128, **kwargs):
        for name in ("cls_token", "sep_token", "pad_token"):
            kwargs.pop(name, None)
        super().__init__(
            tokenizer,
            seq_length + 1,
            cls_token="</s>",
            sep_token="</s>",
            pad_token="<pad>",
            **kwargs,
        )
        self.seq_length = seq_length

    def call(self, inputs):
        features = {name: value[:, 1:] for name, value in super().call(inputs).items()}
        features["segment_ids"] = tf.zeros_like(features["segment_ids"])
        return features


def t5_preprocessor(path, seq_length):
    """:class:`T5Preprocessor` for a directory with T5's ``spiece.model``."""
    tokenizer = SentencePieceTokenizer(
        os.path.join(path, "spiece.model"), lower_case=False, keep_accents=True
    )
    return T5Preprocessor(tokenizer, seq_length=seq_length)
