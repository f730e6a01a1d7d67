"""Classification / regression head over one vector per example.

BERT feeds the pooled [CLS] vector through dropout and one Dense (Devlin et al.
2019, section 4.1); RoBERTa and ELECTRA add an inner Dense + activation
(``inner_dim``). ``num_classes=1`` is regression (STS-B).
"""

import tf_keras as keras

from tfmodels.layers.activations import get_activation
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer


class ClassificationHead(keras.layers.Layer):
    """Call: ``head(vector)`` [B, H] -> logits [B, num_classes]."""

    def __init__(
        self,
        num_classes,
        inner_dim=0,
        activation="tanh",
        dropout_rate=0.1,
        initializer_range=0.02,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.inner_dim = inner_dim
        self.activation = activation
        self.dropout_rate = dropout_rate
        self.initializer_range = initializer_range
        self.dropout = Dropout(dropout_rate)
        self.inner = None
        if inner_dim:
            self.inner = keras.layers.Dense(
                inner_dim,
                activation=get_activation(activation),
                name="inner",
                kernel_initializer=weight_initializer(initializer_range),
            )
        self.out = keras.layers.Dense(
            num_classes, kernel_initializer=weight_initializer(initializer_range), name="logits"
        )

    def call(self, x, training=None):
        x = self.dropout(x, training=training)
        if self.inner is not None:
            x = self.dropout(self.inner(x), training=training)
        return self.out(x)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_classes=self.num_classes,
            inner_dim=self.inner_dim,
            activation=self.activation,
            dropout_rate=self.dropout_rate,
            initializer_range=self.initializer_range,
        )
        return config
