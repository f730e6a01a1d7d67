"""WordPiece tokenization inside the TensorFlow graph (tensorflow-text).

Matches the reference BERT tokenizer: text cleaning (control characters dropped,
Unicode spaces mapped to ' '), splitting on whitespace, punctuation and around
CJK ideographs, and for uncased vocabularies lower-casing and accent stripping
(NFD, then drop combining marks). tf-text's own ``lower_case=True`` applies NFKC
case folding instead (``ß -> ss``, ``™ -> tm``), which gives different ids than
the checkpoints were trained with, so the normalization is done here with plain
string ops and tf-text only splits and looks up pieces.
"""

import os

import tensorflow as tf
import tensorflow_text as tf_text
import tf_keras as keras

from tfmodels.errors import DataError

# Cc without \t \n \r, the replacement character, format and private-use chars.
_CONTROL_CHARS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\x{fffd}\p{Cf}\p{Co}]"


def read_vocabulary(path):
    """Reads a vocab.txt (one token a line) into a list, with a clear error if missing."""
    if not os.path.isfile(path):
        raise DataError(f"vocabulary file not found: {path}")
    with open(path, encoding="utf-8") as f:
        tokens = [line.rstrip("\n") for line in f]
    while tokens and tokens[-1] == "":
        tokens.pop()
    if not tokens:
        raise DataError(f"vocabulary file is empty: {path}")
    return tokens


def normalize_text(texts, lower_case):
    """BERT's text normalization as TF ops on a string tensor."""
    texts = tf.strings.regex_replace(texts, _CONTROL_CHARS, "")
    texts = tf.strings.regex_replace(texts, r"\p{Zs}", " ")
    if lower_case:
        texts = tf.strings.lower(texts, encoding="utf-8")
        texts = tf_text.normalize_utf8(texts, "NFD")
        texts = tf.strings.regex_replace(texts, r"\p{Mn}", "")
    return texts


class WordPieceTokenizer(keras.layers.Layer):
    """Strings [B] -> ragged int32 token ids [B, (T)], without special tokens.

    ``vocabulary`` is a path to vocab.txt (kept as a SavedModel asset) or a list of
    tokens. Words that cannot be split into known pieces, or are longer than
    ``max_chars_per_word``, become ``unknown_token`` as in the reference tokenizer
    (tf-text counts that length in UTF-8 bytes, the reference in characters; the
    two agree on ASCII words).
    """

    def __init__(
        self, vocabulary, lower_case=True, unknown_token="[UNK]", max_chars_per_word=100, **kwargs
    ):
        super().__init__(**kwargs)
        self.vocabulary = vocabulary
        self.lower_case = lower_case
        self.unknown_token = unknown_token
        self.max_chars_per_word = max_chars_per_word
        if isinstance(vocabulary, str):
            self.vocab = read_vocabulary(vocabulary)
            table = vocabulary  # tf-text builds a file-backed table: the file is an asset.
        else:
            self.vocab = list(vocabulary)
            table = tf.lookup.StaticVocabularyTable(
                tf.lookup.KeyValueTensorInitializer(
                    tf.constant(self.vocab), tf.range(len(self.vocab), dtype=tf.int64)
                ),
                num_oov_buckets=1,
            )
        if unknown_token not in self.vocab:
            raise DataError(f"unknown token {unknown_token!r} is not in the vocabulary")
        self._tokenizer = tf_text.BertTokenizer(
            table,
            token_out_type=tf.int64,
            lower_case=False,
            unknown_token=unknown_token,
            max_bytes_per_word=max_chars_per_word,
        )

    @property
    def vocab_size(self):
        return len(self.vocab)

    def token_to_id(self, token):
        return self.vocab.index(token)

    def call(self, texts):
        texts = normalize_text(tf.convert_to_tensor(texts, tf.string), self.lower_case)
        ids = self._tokenizer.tokenize(texts).merge_dims(-2, -1)
        return tf.cast(ids, tf.int32)

    def detokenize(self, ids):
        """Token ids -> list of token strings (for inspection and tests)."""
        return [self.vocab[i] for i in ids]

    def decode(self, ids):
        """Token ids -> text: pieces joined by spaces, ``##`` continuations glued back
        (lower-cased and without accents where the tokenizer normalized them)."""
        return " ".join(self.detokenize(ids)).replace(" ##", "")

    def get_config(self):
        config = super().get_config()
        config.update(
            vocabulary=self.vocabulary,
            lower_case=self.lower_case,
            unknown_token=self.unknown_token,
            max_chars_per_word=self.max_chars_per_word,
        )
        return config
