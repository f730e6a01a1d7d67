"""Step-keyed dropout: the same key drops the same units, another step others, and
every layer of the package uses it (so a resumed run repeats an uninterrupted one)."""

import os
import re

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.layers.dropout import Dropout
from tfmodels.training import noise


def _masks(step, seed=3):
    first, second = Dropout(0.5), Dropout(0.5)
    x = tf.ones([4, 64])
    with noise.keyed_by(seed, tf.constant(step, tf.int64)):
        return first(x, training=True).numpy(), second(x, training=True).numpy()


def test_a_key_fixes_the_masks_and_each_draw_and_step_differ():
    a, b = _masks(0)
    again_a, again_b = _masks(0)
    np.testing.assert_array_equal(a, again_a)  # a resumed step draws the same
    np.testing.assert_array_equal(b, again_b)
    assert not np.array_equal(a, b)  # the second layer of a step draws anew
    assert not np.array_equal(a, _masks(1)[0])  # so does the next step
    assert not np.array_equal(a, _masks(0, seed=4)[0])  # and another seed
    assert set(np.unique(a)) == {0.0, 2.0} and abs((a == 0).mean() - 0.5) < 0.1


def test_the_keyed_mask_keeps_the_rate_and_the_expectation():
    x = tf.ones([1000, 1000], tf.bfloat16)
    for rate in (0.1, 0.5):
        with noise.keyed_by(0, tf.constant(0, tf.int64)):
            y = Dropout(rate)(x, training=True).numpy().astype(np.float32)
        assert abs((y == 0).mean() - rate) < 0.002
        assert abs(y.mean() - 1.0) < 0.005  # kept units scaled by the exact keep rate
    # A noise shape broadcasts one mask over the axes it leaves at 1.
    with noise.keyed_by(0, tf.constant(0, tf.int64)):
        y = Dropout(0.5, noise_shape=[4, 1])(tf.ones([4, 64]), training=True).numpy()
    assert all(len(set(row)) == 1 for row in y)


def test_outside_a_training_step_it_is_keras_dropout():
    x = tf.ones([2, 8])
    np.testing.assert_array_equal(Dropout(0.5)(x, training=False).numpy(), x.numpy())
    dropped = Dropout(0.5)(x, training=True).numpy()  # no key: Keras' own draw
    assert set(np.unique(dropped)) <= {0.0, 2.0}


def test_no_layer_of_the_package_uses_keras_dropout_directly():
    root = os.path.dirname(tfmodels.__file__)
    offenders = []
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            if name.endswith(".py") and name != "dropout.py":
                with open(path, encoding="utf-8") as f:
                    if re.search(r"keras\.layers\.Dropout\(", f.read()):
                        offenders.append(os.path.relpath(path, root))
    assert offenders == []
