"""Step-keyed dropout: the same key drops the same units, another step others, and
every layer of the package uses it (so a resumed run repeats an uninterrupted one); the
fused kernel's gradient drops what its forward dropped; the counter-based bits are
uniform and independent enough for masks."""

import os
import re

import numpy as np
import tensorflow as tf

import tfmodels
from tfmodels.layers.dropout import Dropout, keep_mask, random_bits
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


def test_the_gradient_drops_the_units_the_forward_dropped():
    x = tf.random.stateless_normal([64, 96], seed=[0, 1])
    upstream = tf.random.stateless_normal([64, 96], seed=[1, 1])
    for dtype in (tf.float32, tf.bfloat16):
        with noise.keyed_by(5, tf.constant(2, tf.int64)):
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = Dropout(0.3)(tf.cast(x, dtype), training=True)
            grad = tape.gradient(y, x, tf.cast(upstream, dtype))
        kept = y.numpy() != 0
        assert 0.6 < kept.mean() < 0.8
        # The fused kernel (XLA) draws what keep_mask draws as TF ops (noise shapes).
        with noise.keyed_by(5, tf.constant(2, tf.int64)):
            np.testing.assert_array_equal(keep_mask([64, 96], 0.3, noise.seed())[0], kept)
        np.testing.assert_array_equal(grad.numpy() != 0, kept)
        scale = np.float32(1 / 0.7)
        tol = 1e-6 if dtype == tf.float32 else 1e-2
        np.testing.assert_allclose(grad.numpy()[kept], upstream.numpy()[kept] * scale, rtol=tol)
        np.testing.assert_allclose(
            y.numpy().astype(np.float32)[kept], x.numpy()[kept] * scale, rtol=tol
        )


def test_random_bits_are_uniform_independent_and_keyed():
    bits = random_bits([1 << 16], tf.constant([7, 11], tf.int64)).numpy()
    assert len(np.unique(bits)) == bits.size  # distinct units never share bits
    per_bit = np.unpackbits(bits.view(np.uint8)).reshape(-1, 32).mean(axis=0)
    assert np.all(np.abs(per_bit - 0.5) < 0.01)  # every bit position is fair
    # Neighbouring units (the next index) are uncorrelated, in each bit and in value.
    high = (bits >> 31).astype(np.float64)
    assert abs(np.corrcoef(high[:-1], high[1:])[0, 1]) < 0.02
    assert abs(np.corrcoef(bits[:-1].astype(np.float64), bits[1:])[0, 1]) < 0.02
    # Keys that differ in one word give unrelated bits; the same key the same bits.
    other = random_bits([1 << 16], tf.constant([7, 12], tf.int64)).numpy()
    assert np.mean(bits == other) < 1e-3
    assert abs(np.corrcoef(bits.astype(np.float64), other)[0, 1]) < 0.02
    again = random_bits([1 << 16], tf.constant([7, 11], tf.int64)).numpy()
    np.testing.assert_array_equal(bits, again)
    # A chi-square over 256 cells of the top byte: uniform at the 0.1% level.
    counts = np.bincount(bits >> 24, minlength=256)
    expected = bits.size / 256
    assert ((counts - expected) ** 2 / expected).sum() < 330  # chi2(255) 99.9%: 330.5


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
