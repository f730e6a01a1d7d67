"""Text -> model features in one Keras layer (tokenizer + packer).

The same layer is used for training input pipelines and inside exported
SavedModels, so a served model takes raw strings and tokenizes exactly as in
training.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.tokenizers.packer import SegmentPacker
from tfmodels.tokenizers.wordpiece import WordPieceTokenizer


class Preprocessor(keras.layers.Layer):
    """Call on a string tensor [B] or a pair ``(texts_a, texts_b)`` -> feature dict.

    ``tokenizer`` is a :class:`WordPieceTokenizer` (or its config dict);
    ``cls_token``/``sep_token``/``pad_token`` name the special tokens.
    """

    def __init__(
        self,
        tokenizer,
        seq_length=128,
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(tokenizer, dict):
            tokenizer = keras.layers.deserialize(
                tokenizer, custom_objects={"WordPieceTokenizer": WordPieceTokenizer}
            )
        if seq_length < 3:
            raise ConfigError(f"seq_length must be at least 3 (got {seq_length})")
        self.tokenizer = tokenizer
        self.seq_length = seq_length
        self.cls_token, self.sep_token, self.pad_token = cls_token, sep_token, pad_token
        ids = {}
        for token in (cls_token, sep_token, pad_token):
            if token not in tokenizer.vocab:
                raise ConfigError(f"special token {token!r} is not in the vocabulary")
            ids[token] = tokenizer.vocab.index(token)
        self.packer = SegmentPacker(seq_length, ids[cls_token], ids[sep_token], ids[pad_token])

    @property
    def vocab_size(self):
        return self.tokenizer.vocab_size

    def call(self, inputs):
        if isinstance(inputs, (list, tuple)):
            segments = [self.tokenizer(tf.reshape(x, [-1])) for x in inputs]
        else:
            segments = [self.tokenizer(tf.reshape(inputs, [-1]))]
        return self.packer(segments)

    def get_config(self):
        config = super().get_config()
        config.update(
            tokenizer=keras.layers.serialize(self.tokenizer),
            seq_length=self.seq_length,
            cls_token=self.cls_token,
            sep_token=self.sep_token,
            pad_token=self.pad_token,
        )
        return config
