"""FusedAdamW takes Keras AdamW's steps exactly, with its own kernels."""

import os
import subprocess
import sys

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmodels.training.fused_adamw import FusedAdamW
from tfmodels.training.optimization import NO_DECAY

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def train(cls, strategy, steps=4):
    """Weights after ``steps`` updates by ``cls`` of a model with an embedding (sparse
    gradient), a decayed kernel and a bias excluded from decay: (whether the embedding's
    gradient was sparse, the weights, how far the steps moved them)."""
    with strategy.scope():
        keras.utils.set_random_seed(0)
        embedding = keras.layers.Embedding(20, 6, name="embedding")
        dense = keras.layers.Dense(3, name="dense")
        ids = keras.Input((5,), dtype="int32")
        model = keras.Model(ids, dense(keras.layers.GlobalAveragePooling1D()(embedding(ids))))
        optimizer = cls(learning_rate=0.05, weight_decay=0.1, global_clipnorm=0.5)
        optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
    batch = np.random.default_rng(1).integers(0, 20, (4, 5)).astype(np.int32)
    initial = [v.numpy() for v in model.trainable_variables]

    @tf.function
    def step():
        def replica():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(model(batch) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            return isinstance(grads[0], tf.IndexedSlices)

        return strategy.run(replica)

    sparse = [step() for _ in range(steps)][0]
    weights = [v.numpy() for v in model.trainable_variables]
    moved = max(float(np.abs(w - i).max()) for w, i in zip(weights, initial))
    return sparse, weights, moved


def test_fused_steps_equal_keras_adamw():
    strategy = tf.distribute.get_strategy()
    sparse, expected, moved = train(keras.optimizers.AdamW, strategy)
    _, got, _ = train(FusedAdamW, strategy)
    assert sparse  # the embedding's gradient took the sparse path
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=0)  # float32 rounding
    assert moved > 0.1  # far more than the tolerance


def test_fused_steps_equal_keras_adamw_under_mirrored_strategy():
    # Logical devices must be set before TensorFlow starts: a child process.
    script = """
import numpy as np
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import tf_keras as keras
from tests.training.test_fused_adamw import FusedAdamW, train
strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
_, expected, _ = train(keras.optimizers.AdamW, strategy)
_, got, _ = train(FusedAdamW, strategy)
print(max(float(np.abs(e - g).max()) for e, g in zip(expected, got)))
"""
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert float(result.stdout.split()[-1]) <= 1e-5


def test_one_kernel_per_variable_shape_under_mixed_precision():
    # An AutoCastVariable argument is traced per object: passed as is, each of these
    # four same-shaped kernels (and biases) compiled a kernel of its own.
    from tfmodels.training.fused_adamw import _adamw_update

    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        model = keras.Sequential([keras.layers.Dense(8) for _ in range(4)])
        model.build((None, 8))
        assert all(hasattr(v, "_variable") for v in model.trainable_variables)  # autocast
        optimizer = FusedAdamW(learning_rate=0.01, weight_decay=0.01, global_clipnorm=1.0)
        before = _adamw_update.experimental_get_tracing_count()

        @tf.function
        def step():
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.cast(model(tf.ones([2, 8])), tf.float32) ** 2)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))

        step()
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert _adamw_update.experimental_get_tracing_count() - before <= 2  # [8, 8] and [8]
