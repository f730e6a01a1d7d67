"""Activation functions by the names checkpoints use for them.

BERT's original code and HF ``"gelu"`` use the exact erf GELU; GPT-2 and HF
``"gelu_new"`` use the tanh approximation (Hendrycks & Gimpel 2016, eq. 2).
Both convert to the TFLite builtin GELU op.
"""

import tensorflow as tf

from tfmodels.errors import ConfigError


def _gelu_exact(x):
    return tf.nn.gelu(x, approximate=False)


def _gelu_tanh(x):
    return tf.nn.gelu(x, approximate=True)


_ACTIVATIONS = {
    "gelu": _gelu_exact,
    "gelu_exact": _gelu_exact,
    "gelu_new": _gelu_tanh,
    "gelu_tanh": _gelu_tanh,
    "gelu_pytorch_tanh": _gelu_tanh,
    "relu": tf.nn.relu,
    "tanh": tf.math.tanh,
    "silu": tf.nn.silu,
    "swish": tf.nn.silu,
    "linear": tf.identity,
}


def get_activation(name):
    """Returns the activation function called ``name`` (a checkpoint's ``hidden_act``)."""
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ConfigError(
            f"unknown activation {name!r}; known: {', '.join(sorted(_ACTIVATIONS))}"
        ) from None
