"""Activation functions by the names checkpoints use for them.

BERT's original code and HF ``"gelu"`` use the exact erf GELU; GPT-2 and HF
``"gelu_new"`` use the tanh approximation (Hendrycks & Gimpel 2016, eq. 2).
Both convert to the TFLite builtin GELU op.

Under a mixed precision policy the GELUs compute in float32 between two casts: TF's
CPU kernels for element-wise bfloat16 math convert each element on its own, and the
GELU (erfc or tanh, and their gradients) was the largest non-matmul cost of a bf16
fine-tuning step. MiniLM's [32 x 48, 1536] feed-forward activation, forward and
backward, 2-core Xeon: 18.9 ms in bfloat16, 10.9 ms in float32 with the casts.
"""

import tensorflow as tf

from tfmodels.errors import ConfigError


def _in_float32(x, fn):
    if x.dtype in (tf.bfloat16, tf.float16):
        return tf.cast(fn(tf.cast(x, tf.float32)), x.dtype)
    return fn(x)


def _gelu_exact(x):
    return _in_float32(x, lambda v: tf.nn.gelu(v, approximate=False))


def _gelu_tanh(x):
    return _in_float32(x, lambda v: tf.nn.gelu(v, approximate=True))


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
