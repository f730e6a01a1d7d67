"""Span question-answering head: start and end logits for every token.

BERT (Devlin et al. 2019, section 4.2) fine-tunes on SQuAD with one start vector S
and one end vector E: the start score of token i is ``S . T_i``, its end score
``E . T_i``, and a span i..j scores ``S . T_i + E . T_j``. Both vectors are one
Dense(2) over the sequence output (HF's ``qa_outputs``), shared by every family;
DistilBERT drops out the sequence output first (``dropout_rate``).
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer


class SpanHead(keras.layers.Layer):
    """Call: ``head(sequence_output)`` [B, S, H] -> ``(start_logits, end_logits)``, each [B, S]."""

    def __init__(self, dropout_rate=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.dropout = Dropout(dropout_rate)
        self.dense = keras.layers.Dense(
            2, kernel_initializer=weight_initializer(initializer_range), name="qa_outputs"
        )

    def call(self, sequence_output, training=None):
        logits = self.dense(self.dropout(sequence_output, training=training))
        start, end = tf.unstack(logits, 2, axis=-1)
        return start, end

    def get_config(self):
        config = super().get_config()
        config.update(dropout_rate=self.dropout_rate, initializer_range=self.initializer_range)
        return config
