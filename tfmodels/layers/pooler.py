"""BERT's pooler: a tanh Dense over the first ([CLS]) token (Devlin et al. 2019, section 3)."""

import tf_keras as keras

from tfmodels.layers.initializer import weight_initializer


class Pooler(keras.layers.Layer):
    """Call: ``pooler(sequence_output)`` [B, S, H], or the first token's output [B, H],
    -> [B, H]."""

    def __init__(self, hidden_size, activation="tanh", initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.activation = activation
        self.initializer_range = initializer_range
        self.dense = keras.layers.Dense(
            hidden_size,
            activation=activation,
            name="dense",
            kernel_initializer=weight_initializer(initializer_range),
        )

    def call(self, sequence_output):
        first = sequence_output[:, 0, :] if sequence_output.shape.rank == 3 else sequence_output
        return self.dense(first)

    def get_config(self):
        config = super().get_config()
        config.update(
            hidden_size=self.hidden_size,
            activation=self.activation,
            initializer_range=self.initializer_range,
        )
        return config
