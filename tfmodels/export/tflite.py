"""TFLite export: builtin ops only (no Flex delegate), one signature per sequence length.

``quantize``: None (float32), ``"dynamic"`` (int8 weights, float activations),
``"float16"`` (float16 weights), ``"int8"`` (int8 weights and activations calibrated
on ``representative_data``; LayerNorm's statistics and the softmax stay float, where
XNNPACK runs them, unless ``float_ops=()``, see :data:`FLOAT_OPS`) and ``"qat"``
(a model from ``tfmodels.compression.qat.quantize_model``: int8 with the ranges of
its fake-quant nodes, no calibration data; its softmax too runs float between int8
tensors, :mod:`tfmodels.export.float_islands`). A signature's inputs are the int32
feature names, its outputs the model's output names. ``inputs`` may name fewer
features (``("input_ids",)``, as HF models are called): the others are then constants
of the graph (mask all ones, segments 0), so every row must fill the sequence length.

Shapes: each input is ``[batch_size, length]``. ``batch_size=None`` leaves the batch
dimension dynamic: one file runs batches of any size, through
``Interpreter.get_signature_runner()`` (it resizes the inputs itself) or after
``resize_tensor_input`` and ``allocate_tensors``. An integer fixes it. The
projections are traced as 2-D matmuls (:func:`static_reshapes.dense_as_matmul`), so a
dynamic batch keeps them int8 FULLY_CONNECTED ops in XNNPACK, QAT files included.

Signatures: ``seq_length=128`` writes one signature, ``serving_default``.
``seq_length=(32, 64, 128)`` writes one signature per length, named
``serving_32``, ``serving_64`` and ``serving_128`` (:func:`signature_name`), all
in one file that stores the weights once: a short text then runs at a short length.
``tfmodels.export.tflite_runner`` picks the shortest signature that fits a text.
MiniLM, measured: float 90.4 MB for one length, 90.9 MB for (32, 64, 128); int8
23.0 and 23.8 MB (int8 needs
:func:`tfmodels.export.calibration.union_lookup_ranges`, else 47.3 MB).
"""

import contextlib
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmodels.atomic import atomic_write
from tfmodels.errors import ConfigError
from tfmodels.export import calibration
from tfmodels.export.float_islands import run_in_float
from tfmodels.export.static_reshapes import dense_as_matmul
from tfmodels.layers.attention import FLOAT_MASK_PENALTY, INT8_MASK_PENALTY, mask_penalty
from tfmodels.models.base import FEATURE_DEFAULTS, complete_features

QUANTIZE = (None, "dynamic", "float16", "int8", "qat")
_FEATURES = ("input_ids", "input_mask", "segment_ids")
_SKIPPED_OUTPUTS = ("encoder_outputs", "attention_scores")
DEFAULT_SIGNATURE = "serving_default"


def signature_name(length):
    """The signature of sequence length ``length`` in a file of several lengths."""
    return f"serving_{length}"


def _float32(model):
    """``model``, or where it computes in bfloat16/float16 (built under a mixed
    precision policy, as after training) a float32 copy with its weights: TFLite's
    builtin kernels take float32 and integers only."""
    if getattr(model, "compute_dtype", "float32") == "float32":
        return model
    policy = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("float32")
    try:
        copy = type(model).from_config(model.get_config())
    except Exception as e:  # a model without a config round trip (e.g. a QAT clone)
        raise ConfigError(
            f"the model computes in {model.compute_dtype}; TFLite needs float32: build or "
            "load it under keras.mixed_precision.set_global_policy('float32') "
            f"({type(e).__name__}: {e})"
        ) from None
    finally:
        keras.mixed_precision.set_global_policy(policy)
    copy.set_weights(model.get_weights())
    return copy


def _signature(model, names, seq_length, batch_size, name):
    specs = [tf.TensorSpec([batch_size, seq_length], tf.int32, name=n) for n in names]
    # The model's own defaults fill the features left out; a QAT clone (a plain
    # keras.Model) has none and gets BERT's.
    defaults = getattr(model, "feature_defaults", FEATURE_DEFAULTS)

    def serve(*tensors):
        features = complete_features(dict(zip(names, tensors)), model.input, defaults, model.name)
        out = model(features, training=False)
        return {k: tf.cast(v, tf.float32) for k, v in out.items() if k not in _SKIPPED_OUTPUTS}

    # The converter names each signature of a multi-function file after its graph,
    # which takes the Python function's name.
    serve.__name__ = name
    return tf.function(serve, input_signature=specs).get_concrete_function()


def representative_dataset(features, limit=100):
    """Calibration samples from a feature dict of [N, S] arrays, one example at a time."""
    n = min(limit, len(next(iter(features.values()))))

    def generate():
        for i in range(n):
            yield {k: np.asarray(v[i : i + 1], np.int32) for k, v in features.items()}

    return generate


def _chunks(features, length):
    """Each row of ``features`` ([N, S] arrays) cut into ``length``-wide pieces, the last
    one zero-padded (id 0, mask 0, segment 0); pieces with no real token (mask all 0)
    are dropped."""
    columns = -(-len(features["input_ids"][0]) // length) * length
    pieces = {}
    for k, v in features.items():
        v = np.asarray(v, np.int32)
        v = np.pad(v, [(0, 0), (0, columns - v.shape[1])])
        pieces[k] = v.reshape(-1, length)
    if "input_mask" in pieces:
        real = pieces["input_mask"].any(axis=1)
        pieces = {k: v[real] for k, v in pieces.items()}
    return pieces


def _signature_dataset(features, signatures, limit=None):
    """Calibration samples for the signatures ``{length: key}``: ``(key, example)``
    pairs, the first ``limit`` rows (None: all) cut into pieces of each signature's length (a row
    that fits is one piece, zero-padded).

    Every signature sees the same token ids: the int8 word-embedding table takes its
    scale from the ids its lookup met in calibration, so other ids would give each
    signature its own copy of the table. Pieces keep every real token; ids that one
    length still lacks (the padding id, when its rows happen to need none) are added
    to one more sample as padding positions (mask 0), or as tokens without a mask.
    """
    rows = {k: np.asarray(v[:limit], np.int32) for k, v in features.items()}
    pieces = {length: _chunks(rows, length) for length in signatures}
    seen = {length: set(np.unique(p["input_ids"]).tolist()) for length, p in pieces.items()}
    every = set().union(*seen.values())
    for length, p in pieces.items():
        missing = sorted(every - seen[length])
        width = max(1, length - 1)  # keep one real token in the sample
        for start in range(0, len(missing), width):
            group = missing[start : start + width]
            sample = {k: v[:1].copy() for k, v in p.items()}
            sample["input_ids"][0, -len(group) :] = group
            for k in ("input_mask", "segment_ids"):
                if k in sample:
                    sample[k][0, -len(group) :] = 0
            p = {k: np.concatenate([v, sample[k]]) for k, v in p.items()}
        pieces[length] = p

    def generate():
        for length, key in signatures.items():
            p = pieces[length]
            for i in range(len(p["input_ids"])):
                yield key, {k: v[i : i + 1] for k, v in p.items()}

    return generate


# LayerNorm's mean, variance and 1/sqrt: in int8 they run in LiteRT's builtin kernels,
# outside XNNPACK (SQUARED_DIFFERENCE has no int8 XNNPACK kernel), and the variance of a
# residual stream with outlier features loses its small features to one int8 range.
# Kept float, XNNPACK runs them between a DEQUANTIZE and a QUANTIZE. Measured on the
# demo's MiniLM classifier (seq 128, 2 threads, 200 calibration texts): 8.5 ms and test
# accuracy 0.801, against 15.2 ms and 0.766 with every op int8 (float file: 32-35 ms,
# 0.793).
LAYER_NORM_STATISTICS = ("MEAN", "SQUARED_DIFFERENCE", "RSQRT")
# The attention softmax: LiteRT's int8 SOFTMAX runs outside XNNPACK, which has no int8
# softmax; after the changes above it was the slowest op of the int8 file (2.5 ms,
# 28%). Kept float, XNNPACK runs it: 8.2 -> 5.9 ms at batch 1 (float file 18.2 ms).
# Its int8 input (the masked scores, see ``mask_penalty``) and output stay int8.
FLOAT_OPS = LAYER_NORM_STATISTICS + ("SOFTMAX",)


def _selectively_quantized(converter, dataset, float_ops):
    """The int8 flatbuffer with the ops of ``float_ops`` left float, through TFLite's
    QuantizationDebugger (its denylist is the converter's selective quantization)."""
    options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=list(float_ops))
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=dataset,
        debug_options=options,
    )
    return debugger.get_nondebug_quantized_model()


def _is_int(value):
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _signatures(seq_length):
    """``{length: signature key}`` for ``seq_length`` (an int or a sequence of them),
    shortest first."""
    if _is_int(seq_length):
        lengths = [seq_length]
    elif isinstance(seq_length, (tuple, list)):
        lengths = list(seq_length)
    else:
        lengths = []
    if not lengths or not all(_is_int(n) and n >= 1 for n in lengths):
        raise ConfigError(f"seq_length={seq_length!r}: give a positive int or a tuple of them")
    if len(set(lengths)) != len(lengths):
        raise ConfigError(f"seq_length={seq_length!r}: a length is given twice")
    if _is_int(seq_length):
        return {int(seq_length): DEFAULT_SIGNATURE}
    return {int(n): signature_name(int(n)) for n in sorted(lengths)}


def tflite(
    model,
    path,
    seq_length=128,
    quantize=None,
    representative_data=None,
    batch_size=None,
    inputs=None,
    float_ops=FLOAT_OPS,
):
    """Converts ``model`` and writes the flatbuffer to ``path`` (temporary name, then rename).

    ``seq_length``: an int (one signature, ``serving_default``) or a tuple of ints
    (one signature ``serving_<length>`` per length, sharing the weights).
    ``batch_size``: None for a dynamic batch dimension, or a fixed int.
    ``inputs``: the signature's feature names (None: every feature the model takes).
    ``representative_data`` (for ``"int8"``): a dict of [N, S] arrays (every row,
    each cut into pieces of each signature's length or zero-padded to it, see
    :func:`_signature_dataset`), or a generator function yielding examples (with
    several lengths, ``(signature key, example)`` pairs).
    ``float_ops`` (for ``"int8"`` and ``"qat"``): op types that stay float (for int8,
    TFLite's selective quantization; for QAT, a rewrite of the converted file), by
    default LayerNorm's statistics and the softmax, see :data:`LAYER_NORM_STATISTICS`
    and :data:`FLOAT_OPS`; ``()`` gives a file whose every op is integer (for NPUs and
    Edge TPUs).
    """
    if quantize not in QUANTIZE:
        raise ConfigError(f"quantize={quantize!r}: choose one of {QUANTIZE}")
    signatures = _signatures(seq_length)
    if batch_size is not None and not (_is_int(batch_size) and batch_size >= 1):
        raise ConfigError(f"batch_size={batch_size!r}: give None (dynamic) or a positive int")
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
    model = _float32(model)
    max_positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    longest = max(signatures)
    if max_positions and longest > max_positions:
        raise ConfigError(f"seq_length {longest} exceeds max_position_embeddings {max_positions}")
    # One function per length; the converter names the signatures of several after
    # their functions (with one, serving_default).
    # Integer files get the mask form whose softmax input keeps an int8 range
    # (:func:`tfmodels.layers.attention.masked_softmax`).
    penalty = INT8_MASK_PENALTY if quantize in ("int8", "qat") else FLOAT_MASK_PENALTY
    with mask_penalty(penalty), dense_as_matmul():
        functions = [_signature(model, names, n, batch_size, key) for n, key in signatures.items()]
    converter = tf.lite.TFLiteConverter.from_concrete_functions(functions, model)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if quantize == "int8":
        if isinstance(representative_data, dict):
            data = {k: v for k, v in representative_data.items() if k in names}
            representative_data = _signature_dataset(data, signatures)
        converter.representative_dataset = representative_data
    try:
        with calibration.adjusted_ranges() if quantize == "int8" else contextlib.nullcontext():
            if quantize == "int8" and float_ops:
                flatbuffer = _selectively_quantized(converter, representative_data, float_ops)
            else:
                flatbuffer = converter.convert()
    except Exception as e:  # the converter raises ConverterError and plain Exceptions
        raise ConfigError(f"TFLite conversion failed: {str(e).splitlines()[0]}") from None
    if quantize == "qat" and float_ops:
        # The converter's QAT path has no selective quantization: rewrite the file.
        flatbuffer, _ = run_in_float(flatbuffer, float_ops)
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
