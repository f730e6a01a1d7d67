"""TEMPORARY (not to be kept): runs the export tests against a deliberately broken export."""
import os

import numpy as np
import tensorflow as tf

import sys

import tfmodels

module = sys.modules["tfmodels.export.tflite"]
from tests.export.test_tflite import *  # noqa: F401,F403
from tests.export.test_tflite_families import *  # noqa: F401,F403

BREAK = os.environ["BREAK"]
original_tflite = module.tflite
original_signature = module._signature


def broken_signature(model, seq_length, batch_size):
    names = [n for n in module._FEATURES if n in model.input]
    specs = [tf.TensorSpec([batch_size, seq_length], tf.int32, name=n) for n in names]

    def serve(*tensors):
        features = dict(zip(names, tensors))
        features["input_mask"] = tf.ones_like(features["input_mask"])  # padding attended
        out = model(features, training=False)
        return {k: tf.cast(v, tf.float32) for k, v in out.items() if k not in module._SKIPPED_OUTPUTS}
    return tf.function(serve, input_signature=specs).get_concrete_function()


def broken_tflite(model, path, seq_length=128, quantize=None, representative_data=None, **kw):
    kind, _, r = BREAK.partition(":")
    if kind == "noise" or kind == "int8noise" and quantize == "int8":
        saved, rng = model.get_weights(), np.random.default_rng(1)
        for w in model.trainable_weights:
            if "kernel" in w.name:
                v = w.numpy()
                w.assign(v + float(r) * v.std() * rng.standard_normal(v.shape))
        try:
            return original_tflite(model, path, seq_length, quantize, representative_data, **kw)
        finally:
            model.set_weights(saved)
    if BREAK == "calibration" and isinstance(representative_data, dict):  # first row only
        representative_data = {k: v[:1] for k, v in representative_data.items()}
    return original_tflite(model, path, seq_length, quantize, representative_data, **kw)


if BREAK == "mask":
    module._signature = broken_signature
tfmodels.export.tflite = broken_tflite
