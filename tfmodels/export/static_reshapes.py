"""Dense layers traced as one 2-D MatMul between constant-shape reshapes, for export.

A Keras ``Dense`` on a ``[batch, length, width]`` input calls ``tf.tensordot``. With
the batch dimension unknown (a TFLite file that takes any batch), tensordot computes
the output shape at run time: SHAPE, GATHER, REDUCE_PROD, PACK and CONCATENATION
around every projection, and a RESHAPE whose shape is a tensor. XNNPACK's delegate
takes only reshapes to a constant shape, so each projection split its delegated
partitions (with int8 requantizing at every border): the dynamic-batch int8 MiniLM
ran 20% slower than a batch-1 file. While :func:`dense_as_matmul` is entered, such a
call becomes ``reshape(x, [-1, width]) @ kernel`` reshaped to ``[-1, length, units]``
where ``length`` and the widths are known when tracing (an export signature fixes
the sequence length); the values are the same, only the graph's shape ops change.
"""

import contextlib

import tensorflow as tf
from tf_keras.src.layers.core import dense as _dense_module


def _tensordot(a, b, axes, name=None):
    """``tf.tensordot`` of Dense's ``[B, S, W] x [W, U]`` with constant-shape reshapes
    where S, W and U are known; any other call as tensordot."""
    a = tf.convert_to_tensor(a)
    known = a.shape.rank == 3 and a.shape[1:].is_fully_defined() and b.shape.is_fully_defined()
    if not known or b.shape.rank != 2 or axes not in ([[2], [0]], [[-1], [0]]):
        return tf.tensordot(a, b, axes, name=name)
    flat = tf.matmul(tf.reshape(a, [-1, a.shape[2]]), b)
    return tf.reshape(flat, [-1, a.shape[1], b.shape[1]], name=name)


class _DenseModuleTF:
    """The ``tf`` that Keras's dense module calls, with :func:`_tensordot` in place."""

    def __init__(self, tf_module):
        self._tf = tf_module

    def __getattr__(self, name):
        return _tensordot if name == "tensordot" else getattr(self._tf, name)


@contextlib.contextmanager
def dense_as_matmul():
    """Within: Keras ``Dense`` layers on 3-D inputs trace as MatMul between constant
    reshapes (see the module doc). Only the layers traced inside are affected."""
    original = _dense_module.tf
    _dense_module.tf = _DenseModuleTF(original)
    try:
        yield
    finally:
        _dense_module.tf = original
