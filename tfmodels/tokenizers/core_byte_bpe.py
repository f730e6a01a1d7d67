"""Byte-level BPE (GPT-2, RoBERTa) with core TensorFlow ops only, for stock TF Serving.

:class:`~tfmodels.tokenizers.byte_bpe.ByteBPETokenizer` is core ops (byte symbols,
a hash table of merge ranks, a ``tf.while_loop`` merging every word of a batch, no
cache) except for its pre-tokenization, tensorflow-text's ``regex_split``. GPT-2's
pieces cover the whole text, match after match, so ``regex_replace`` can write a
separator on both sides of every match (the same RE2 matches ``regex_split``
finds) and ``tf.strings.split`` cuts there. ``regex_split`` ends a text at its first
NUL byte (the C string it reads ends there; the reference tokenizer would keep the
rest); so does this, and then the NUL byte, absent from what is left, is the
separator.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.tokenizers.byte_bpe import _PIECES, _WS, ByteBPETokenizer, _join_whitespace

_SEPARATOR = b"\x00"


def split_pieces(texts):
    """``tf_text.regex_split(texts, _PIECES, _PIECES)``: strings [B] -> ragged [B, (P)].

    Text no piece matches (bytes that are not UTF-8) stays a piece of its own between
    separators, as ``regex_split`` keeps the text between delimiters.
    """
    texts = tf.strings.regex_replace(texts, r"(?s)\x00.*", "")
    marked = tf.strings.regex_replace(texts, _PIECES, _SEPARATOR + rb"\0" + _SEPARATOR)
    pieces = tf.strings.split(marked, sep=_SEPARATOR)
    return tf.ragged.boolean_mask(pieces, pieces != "")


@keras.utils.register_keras_serializable("tfmodels")
class CoreByteBPETokenizer(ByteBPETokenizer):
    """:class:`ByteBPETokenizer`'s ids from core ops: same arguments, same outputs."""

    @classmethod
    def from_tokenizer(cls, tokenizer):
        return cls.from_config(tokenizer.get_config())

    def split_words(self, texts):
        texts = tf.convert_to_tensor(texts, tf.string)
        if self.add_prefix_space:
            texts = tf.where(
                tf.strings.regex_full_match(texts, f"(?s)|[{_WS}].*"),
                texts,
                tf.strings.join([" ", texts]),
            )
        return _join_whitespace(split_pieces(texts))
