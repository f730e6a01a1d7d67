"""QAT for every encoder family beyond BERT: the classifier quantizes with every Dense
and table fake-quantized, converts to a full-int8 TFLite file with builtin ops only,
and the file agrees with the fake-quant Keras model.

Each case is the tiny classifier of ``test_families`` (TINY/EXTRA) with, where the
family's distinctive layers need it, the configuration that builds them (DeBERTa's
relative attention). Its norms are moved off their initial values, as training does;
the head is scaled so that the logits reach +-8 (a fresh head's ~0.05 would hide any
error); the first training-mode batch sets the activation ranges. The bound is
relative to the largest |logit|, as in ``test_qat`` and ``tests/export/test_tflite``.
"""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2,
)

import tfmodels
from tests.compression.test_families import EXTRA, TINY
from tests.compression.test_qat import softmax_io
from tests.export.test_tflite import BUILTIN, assert_close_to_keras, run
from tfmodels.compression.qat import quantize_model
from tfmodels.compression.quantized_layers import QuantizedActivation
from tfmodels.errors import ConfigError
from tfmodels.models import registry

SEQ = 12
ROWS = 8
# DeBERTaV3's attention: log-bucketed relative positions, shared key/query projections,
# LayerNorm on the relative table, no absolute positions in the input.
DEBERTA_V3 = {
    "relative_attention": True,
    "position_buckets": 8,
    "pos_att_type": ["p2c", "c2p"],
    "share_att_key": True,
    "norm_rel_ebd": "layer_norm",
    "position_biased_input": False,
}
# MobileBERT's NoNorm does not normalize: with the default 0.02 initializer a random
# model's activations shrink ~10x per Dense, its tanh pooler's outputs round to 0 on
# TFLite's fixed 1/128 grid, and every row gets the same logits. This one keeps them O(1).
MOBILEBERT = {"initializer_range": 0.25}
# case: (family, config beyond TINY/EXTRA).
CASES = {
    "roberta": ("roberta", {}),
    "electra": ("electra", {}),
    "distilbert": ("distilbert", {}),
    "mobilebert": ("mobilebert", dict(MOBILEBERT, num_feedforward_networks=2)),
    "deberta-v2": ("deberta-v2", DEBERTA_V3),
    # Variants whose layers differ, quantized but not converted (conversion is the slow
    # part): [CLS] by slicing (no pooler), queries, keys and values from the input
    # bottleneck; DeBERTa's position projections of its own and absolute positions.
    "mobilebert-no-pooler": (
        "mobilebert",
        dict(MOBILEBERT, classifier_activation=False, use_bottleneck_attention=True),
    ),
    "deberta-v2-own-projections": (
        "deberta-v2",
        dict(DEBERTA_V3, share_att_key=False, norm_rel_ebd="none", position_biased_input=True),
    ),
}
# Converted cases: the FULLY_CONNECTED and BATCH_MATMUL ops in the file. Every Dense on
# activations is one FULLY_CONNECTED (the shared projections of DeBERTa's relative
# table, a constant, fold into constants), every attention matmul one BATCH_MATMUL.
CONVERTED = {
    "roberta": (8, 2),
    "electra": (9, 2),
    "distilbert": (8, 2),
    # trigram, 2 bottlenecks, 4 attention, 2 x 2 FFN, output bottleneck, pooler, logits
    "mobilebert": (14, 2),
    "deberta-v2": (8, 4),  # content, c2p and p2c scores; probs x values
}
# test_qat's for BERT. Measured max |TFLite - fake-quant| / max |logit|: 0 for RoBERTa,
# ELECTRA and DistilBERT, 2.3e-2 for MobileBERT, 6e-8 for DeBERTa (before the masked
# scores had a point of their own, 8e-3 to 4.6e-2).
BOUND = 0.1


def features(rng):
    """Random ids, each row with a random number of padded positions (at least 4 real)."""
    lengths = rng.integers(4, SEQ + 1, size=ROWS)
    mask = (np.arange(SEQ) < lengths[:, None]).astype(np.int32)
    ids = rng.integers(3, TINY["vocab_size"], size=(ROWS, SEQ)).astype(np.int32) * mask
    return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


def trained_like(model, rng):
    """Norm weights away from their initial (1, 0), as in a trained model. MobileBERT's
    NoNorm does not normalize: at (1, 0) it is the identity, which the TFLite converter
    removes, and the two quantization points around it (a bottleneck Dense's output,
    the norm's output) then meet with nearly equal ranges, which it cannot convert."""
    for w in model.weights:
        if w.name.endswith(("gamma:0", "beta:0")):
            w.assign(w + rng.normal(0.0, 0.2, w.shape).astype(np.float32))


@pytest.fixture(scope="module")
def quantized():
    """``quantized(case)``: the float classifier, its QAT model (ranges set by one
    training batch) and the features; built on first use."""
    cache = {}

    def build(case):
        if case not in cache:
            family, config = CASES[case]
            tf.keras.utils.set_random_seed(0)
            rng = np.random.default_rng(0)
            declared = registry.family(family)
            model = declared.tasks["classification"](
                declared.config_class(**TINY, **{**EXTRA.get(family, {}), **config}),
                num_labels=3,
            )
            batch = features(rng)
            trained_like(model, rng)
            kernel = model.get_layer("classifier").out.kernel  # zero bias: logits scale with it
            kernel.assign(kernel * (8.0 / np.abs(model(batch)["logits"]).max()))
            qat = quantize_model(model)
            qat(batch, training=True)  # the first training batch sets the ranges
            cache[case] = model, qat, batch
        return cache[case]

    return build


def _tables(model):
    return [w for w in model.trainable_weights if w.name.endswith(("kernel:0", "embeddings:0"))]


@pytest.mark.parametrize("case", CASES)
def test_every_dense_and_table_is_fake_quantized(case, quantized):
    model, qat, batch = quantized(case)
    layers = [layer for layer in qat.layers if not isinstance(layer, keras.layers.InputLayer)]
    wrappers = [layer for layer in layers if isinstance(layer, QuantizeWrapperV2)]
    # Every layer is wrapped but the op layers that only slice ([CLS]).
    assert all(
        isinstance(layer, QuantizeWrapperV2) or type(layer).__name__ == "SlicingOpLambda"
        for layer in layers
    ), [type(layer).__name__ for layer in layers]
    dense = [
        sub
        for layer in wrappers
        for sub in layer._flatten_layers()
        if isinstance(sub, keras.layers.Dense)
    ]
    assert dense and all(isinstance(d.activation, QuantizedActivation) for d in dense)
    # Every kernel and every table (word, position, token type, relative) is quantized.
    quantized_weights = {id(w) for layer in wrappers for w, _, _ in layer._weight_vars}
    tables = _tables(qat)
    assert len(tables) == len(_tables(model))
    assert all(id(w) in quantized_weights for w in tables), [
        w.name for w in tables if id(w) not in quantized_weights
    ]
    # Same weights, ranges from one batch: only 8-bit rounding separates the two.
    expected = model(batch)["logits"].numpy()
    got = qat(batch)["logits"].numpy()
    assert np.abs(got - expected).max() <= 0.1 * np.abs(expected).max()


@pytest.mark.parametrize("case", CONVERTED)
def test_int8_tflite_with_builtin_ops_agrees_with_fake_quant_keras(case, quantized, tmp_path):
    _, qat, batch = quantized(case)
    path = tfmodels.export.tflite(qat, str(tmp_path / "qat.tflite"), seq_length=SEQ, quantize="qat")
    ops = set(tfmodels.export.op_names(path))
    assert ops <= BUILTIN, f"non-builtin ops: {ops - BUILTIN}"
    interpreter = Interpreter(model_path=path)
    tensors = interpreter.get_tensor_details()
    heavy = [
        op
        for op in interpreter._get_ops_details()
        if op["op_name"] in ("FULLY_CONNECTED", "BATCH_MATMUL")
    ]
    names = [op["op_name"] for op in heavy]
    assert (names.count("FULLY_CONNECTED"), names.count("BATCH_MATMUL")) == CONVERTED[case]
    for op in heavy:
        types = {tensors[i]["dtype"] for i in (*op["inputs"][:2], *op["outputs"])}
        assert types == {np.int8}, (op["op_name"], types)
    assert {io[0] for io in softmax_io(path)} == {np.float32}  # XNNPACK's float softmax
    expected = qat(batch)["logits"].numpy()
    got = run(path, batch)
    print(
        f"{case}: max |TFLite - fake-quant| / max |logit| "
        f"{np.abs(got - expected).max() / np.abs(expected).max():.2e}"
    )
    assert_close_to_keras(got, expected, BOUND)


def test_op_layers_that_only_move_values_pass_through_others_are_refused():
    inputs = keras.Input((4, 2), name="x")
    moved = tf.reshape(inputs, [-1, 8])[:, :6]  # TFOpLambda (reshape), SlicingOpLambda
    model = keras.Model(inputs, keras.layers.Dense(3, name="out")(moved))
    qat = quantize_model(model)
    assert [type(layer).__name__ for layer in qat.layers[1:]] == [
        "TFOpLambda",
        "SlicingOpLambda",
        "QuantizeWrapperV2",
    ]
    x = np.linspace(-1, 1, 16, dtype=np.float32).reshape(2, 4, 2)
    qat(x, training=True)
    np.testing.assert_allclose(qat(x), model(x), atol=0.02 * np.abs(model(x)).max())
    scaled = keras.Model(inputs, keras.layers.Dense(3)(keras.layers.Flatten()(inputs * 2.0)))
    with pytest.raises(
        ConfigError, match=r"\(TFOpLambda\) is not supported by QAT \(op math.multiply\)"
    ):
        quantize_model(scaled)
