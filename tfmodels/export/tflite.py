"""TFLite export with fixed-length signatures and builtin ops only (no Flex delegate).

``quantize``: None (float32), ``"dynamic"`` (int8 weights, float activations),
``"float16"`` (float16 weights), ``"int8"`` (int8 weights and activations calibrated
on ``representative_data``; ops without an int8 kernel stay float) and ``"qat"``
(a model from ``tfmodels.compression.qat.quantize_model``: int8 with the ranges of
its fake-quant nodes, no calibration data). The signature's inputs are the int32
feature names, its outputs the model's output names. ``inputs`` may name fewer
features (``("input_ids",)``, as HF models are called): the others are then constants
of the graph (mask all ones, segments 0), so every row must fill the ``seq_length``.
"""

import os

import numpy as np
import tensorflow as tf

from tfmodels.atomic import atomic_write
from tfmodels.errors import ConfigError
from tfmodels.models.base import FEATURE_DEFAULTS, complete_features

QUANTIZE = (None, "dynamic", "float16", "int8", "qat")
_FEATURES = ("input_ids", "input_mask", "segment_ids")
_SKIPPED_OUTPUTS = ("encoder_outputs", "attention_scores")


def _signature(model, names, seq_length, batch_size):
    specs = [tf.TensorSpec([batch_size, seq_length], tf.int32, name=n) for n in names]
    # The model's own defaults fill the features left out; a QAT clone (a plain
    # keras.Model) has none and gets BERT's.
    defaults = getattr(model, "feature_defaults", FEATURE_DEFAULTS)

    def serve(*tensors):
        features = complete_features(dict(zip(names, tensors)), model.input, defaults, model.name)
        out = model(features, training=False)
        return {k: tf.cast(v, tf.float32) for k, v in out.items() if k not in _SKIPPED_OUTPUTS}

    return tf.function(serve, input_signature=specs).get_concrete_function()


def representative_dataset(features, limit=100):
    """Calibration samples from a feature dict of [N, S] arrays, one example at a time."""
    n = min(limit, len(next(iter(features.values()))))

    def generate():
        for i in range(n):
            yield {k: np.asarray(v[i : i + 1], np.int32) for k, v in features.items()}

    return generate


def tflite(
    model,
    path,
    seq_length=128,
    quantize=None,
    representative_data=None,
    batch_size=1,
    inputs=None,
):
    """Converts ``model`` and writes the flatbuffer to ``path`` (temporary name, then rename).

    ``inputs``: the signature's feature names (None: every feature the model takes).
    """
    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize={quantize!r}: choose one of {QUANTIZE}")
    features = [n for n in _FEATURES if n in model.input]
    names = features if inputs is None else list(inputs)
    if "input_ids" not in names or not set(names) <= set(features):
        raise ConfigError(
            f"inputs={inputs!r}: the signature needs input_ids and takes only {features}"
        )
    if quantize == "qat":
        from tfmodels.compression.qat import is_quantized

        if not is_quantized(model):
            # Without fake-quant ranges Optimize.DEFAULT silently gives dynamic-range.
            raise ConfigError(
                "quantize='qat' needs a model from "
                "tfmodels.compression.qat.quantize_model (fine-tuned with "
                "fake quantization); for a float model use quantize='int8'"
            )
    if quantize == "int8" and representative_data is None:
        raise ConfigError("quantize='int8' needs representative_data (calibration features)")
    max_positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    if max_positions and seq_length > max_positions:
        raise ConfigError(
            f"seq_length {seq_length} exceeds max_position_embeddings {max_positions}"
        )
    function = _signature(model, names, seq_length, batch_size)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([function], model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        if isinstance(representative_data, dict):
            representative_data = representative_dataset(
                {k: v for k, v in representative_data.items() if k in names}
            )
        converter.representative_dataset = representative_data
    try:
        flatbuffer = converter.convert()
    except Exception as e:  # the converter raises ConverterError and plain Exceptions
        raise ConfigError(f"TFLite conversion failed: {str(e).splitlines()[0]}") from None
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with atomic_write(path, "wb") as f:
        f.write(flatbuffer)
    return path


def op_names(path):
    """The operator names a TFLite file uses (to check for builtin-only graphs)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=path)
    return sorted({op["op_name"] for op in interpreter._get_ops_details()})
