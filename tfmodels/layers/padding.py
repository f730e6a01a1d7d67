"""Zeroes the vectors of padding positions (DeBERTa's embeddings, as in HF).

A layer rather than ``x * tf.cast(mask, x.dtype)[:, :, tf.newaxis]`` written on
Keras tensors in the model: those raw TF ops become anonymous ``TFOpLambda``
layers, which tools that rewrite the model layer by layer (quantization-aware
training, :mod:`tfmodels.compression.qat`) cannot map to anything.
"""

import tensorflow as tf
import tf_keras as keras


class ZeroPaddingPositions(keras.layers.Layer):
    """Call: ``layer(x, input_mask)`` -> ``x`` [B, S, H] with the rows where
    ``input_mask`` [B, S] is 0 set to zero. No weights."""

    def call(self, x, input_mask):
        return x * tf.cast(input_mask, x.dtype)[:, :, tf.newaxis]
