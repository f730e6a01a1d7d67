"""Activation functions by the names checkpoints use for them.

BERT's original code and HF ``"gelu"`` use the exact erf GELU; GPT-2 and HF
``"gelu_new"`` use the tanh approximation (Hendrycks & Gimpel 2016, eq. 2).
Both convert to the TFLite builtin GELU op.

Under a mixed precision policy the GELUs compute in float32 and round once: TF's CPU
kernels for element-wise bfloat16 math convert each element on its own.

While a gradient tape records (training), a GELU is one XLA-fused element-wise kernel
that returns the activation and its slope, and its gradient is one more (the incoming
gradient times the slope, in float32, rounded once). Unfused, TF runs the GELU and its
autodiff gradient as about fifteen element-wise kernels, each a pass over memory; the
GELU was the largest non-matmul cost of a fine-tuning step. MiniLM's [32 x 48, 1536]
feed-forward activation, forward and backward, 2-core Xeon: 12 ms unfused, 5-6 ms
fused (bfloat16 or float32); XLA compiles the pair once per shape (0.3 s). Without a
tape (inference, export) the GELU is ``tf.nn.gelu``'s own graph, which TFLite's
converter turns into its GELU op. The fused gradient is first-order only (the slope
is not differentiated again).
"""

import math

import tensorflow as tf
from tensorflow.python.eager import record

from tfmodels.errors import ConfigError

_FUSABLE = (tf.float32, tf.bfloat16, tf.float16)


def _in_float32(x, fn):
    if x.dtype in (tf.bfloat16, tf.float16):
        return tf.cast(fn(tf.cast(x, tf.float32)), x.dtype)
    return fn(x)


def _erf_value_and_slope(x):
    """GELU(x) = x Phi(x) and its slope Phi(x) + x phi(x), with tf.nn.gelu's erfc form."""
    e = tf.math.erfc(-x * math.sqrt(0.5))
    return 0.5 * x * e, 0.5 * e + x * tf.exp(-0.5 * tf.square(x)) / math.sqrt(2 * math.pi)


def _tanh_value_and_slope(x):
    """The tanh GELU 0.5 x (1 + tanh(u)), u = c (x + a x^3), and its slope."""
    c, a = math.sqrt(2 / math.pi), 0.044715
    t = tf.tanh(c * (x + a * x * x * x))
    return 0.5 * x * (1 + t), 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * a * x * x)


def _fused(value_and_slope):
    """The activation as one XLA kernel (value, float32 slope) and its gradient as one
    more (upstream gradient x slope)."""

    @tf.function(jit_compile=True, autograph=False)
    def forward(x):
        value, slope = value_and_slope(tf.cast(x, tf.float32))
        return tf.cast(value, x.dtype), slope

    @tf.function(jit_compile=True, autograph=False)
    def backward(upstream, slope):
        return tf.cast(tf.cast(upstream, tf.float32) * slope, upstream.dtype)

    @tf.custom_gradient
    def activation(x):
        value, slope = forward(x)
        return value, lambda upstream: backward(upstream, slope)

    return activation


_gelu_erf_fused = _fused(_erf_value_and_slope)
_gelu_tanh_fused = _fused(_tanh_value_and_slope)


def _gelu_exact(x):
    if x.dtype in _FUSABLE and record.could_possibly_record():
        return _gelu_erf_fused(x)
    return _in_float32(x, lambda v: tf.nn.gelu(v, approximate=False))


def _gelu_tanh(x):
    if x.dtype in _FUSABLE and record.could_possibly_record():
        return _gelu_tanh_fused(x)
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
