"""Enhanced mask decoder (He et al. 2021, DeBERTa, section 3.2).

DeBERTa's encoder sees relative positions only, but the masked-LM needs absolute
ones too ("a new store opened beside the new mall": *store* and *mall* have the
same local context). EMD adds the absolute position embeddings right before the
softmax decoding layer. As in the original code (``EnhancedMaskDecoder.
emd_context_layer``), the last encoder layer is run again, n = 2 times with its
own (shared) weights, with queries ``I = H + P`` -- first the hidden states
entering the last layer plus the absolute positions, then each step's output --
while keys and values stay the hidden states H entering the last layer.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers.disentangled_attention import DisentangledEncoderBlock
from tfmodels.layers.initializer import weight_initializer


class EnhancedMaskDecoder(keras.layers.Layer):
    """Call: ``decoder(hidden, attention_mask=None, relative_embeddings=None, training=None)``.

    ``hidden`` [B, S, H] is the input of ``block`` (the encoder's last layer, whose
    weights are shared); returns the decoded states [B, S, H] for the MLM head.
    The absolute position table [max_positions, H] is the decoder's own weight.
    A decoder rebuilt alone by ``from_config`` gets its own copy of the block.
    """

    def __init__(self, block, max_positions=512, num_steps=2, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        if isinstance(block, dict):
            block = keras.layers.deserialize(
                block, custom_objects={"DisentangledEncoderBlock": DisentangledEncoderBlock}
            )
        if num_steps < 1:
            raise ConfigError(f"{self.name}: num_steps must be >= 1, got {num_steps}")
        self.block = block
        self.max_positions = max_positions
        self.num_steps = num_steps
        self.initializer_range = initializer_range

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            "position_embeddings",
            [self.max_positions, int(input_shape[-1])],
            initializer=weight_initializer(self.initializer_range),
        )
        super().build(input_shape)

    def call(self, hidden, attention_mask=None, relative_embeddings=None, training=None):
        length = tf.shape(hidden)[1]
        positions = tf.gather(self.position_embeddings, tf.range(length))[tf.newaxis]
        query = hidden + tf.cast(positions, hidden.dtype)
        for _ in range(self.num_steps):
            query = self.block(
                query,
                key_value=hidden,
                attention_mask=attention_mask,
                relative_embeddings=relative_embeddings,
                training=training,
            )
        return query

    def get_config(self):
        config = super().get_config()
        config.update(
            block=keras.layers.serialize(self.block),
            max_positions=self.max_positions,
            num_steps=self.num_steps,
            initializer_range=self.initializer_range,
        )
        return config
