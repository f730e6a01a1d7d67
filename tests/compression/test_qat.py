"""QAT: every layer wrapped, training runs, builtin-only int8 TFLite that agrees with Keras."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.python import schema_py_generated as schema
from tensorflow_model_optimization.python.core.quantization.keras.quantize_wrapper import (
    QuantizeWrapperV2,
)

import tfmodels
from tfmodels.compression.qat import is_quantized, quantize_model
from tfmodels.compression.quantize_scheme import TransformerQuantizeScheme
from tfmodels.compression.quantized_layers import FakeQuant, QuantizedActivation
from tfmodels.errors import ConfigError
from tfmodels.export.float_islands import run_in_float
from tfmodels.layers.attention import INT8_MASK_PENALTY
from tfmodels.models import bert
from tfmodels.tasks.classification import loss_fn

CONFIG = bert.Config(
    vocab_size=64,
    hidden_size=16,
    num_layers=1,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
)
SEQ = 12
BUILTIN = {name for name in dir(schema.BuiltinOperator) if name.isupper()} - {"CUSTOM", "DELEGATE"}


def features_and_labels(rows=8):
    rng = np.random.default_rng(0)
    ids = rng.integers(1, CONFIG.vocab_size, size=(rows, SEQ)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[rows // 2 :, SEQ // 2 :] = 0
    ids[mask == 0] = 0
    features = {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}
    return features, rng.integers(0, 3, size=rows).astype(np.int32)


@pytest.fixture(scope="module")
def qat(tmp_path_factory):
    """A tiny classifier, its QAT model after a few steps, and the converted file."""
    tf.keras.utils.set_random_seed(0)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=3)
    features, labels = features_and_labels()
    float_logits = model(features)["logits"].numpy()
    qat_model = quantize_model(model)
    qat_model(features, training=True)  # the first training batch sets the ranges
    calibrated_logits = qat_model(features)["logits"].numpy()
    optimizer = keras.optimizers.Adam(1e-3)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss, _ = loss_fn(qat_model, batch, True)
        grads = tape.gradient(loss, qat_model.trainable_variables)
        optimizer.apply_gradients(zip(grads, qat_model.trainable_variables))
        return loss

    losses = [float(step((features, labels))) for _ in range(3)]
    path = tfmodels.export.tflite(
        qat_model, str(tmp_path_factory.mktemp("qat") / "m.tflite"), seq_length=SEQ, quantize="qat"
    )
    return {
        "model": model,
        "float_logits": float_logits,
        "calibrated_logits": calibrated_logits,
        "qat": qat_model,
        "losses": losses,
        "path": path,
        "features": features,
    }


def test_every_layer_and_every_weight_is_quantized(qat):
    model, qat_model = qat["model"], qat["qat"]
    assert is_quantized(qat_model) and not is_quantized(model)
    layers = [layer for layer in qat_model.layers if not isinstance(layer, keras.layers.InputLayer)]
    # The [CLS] row's slices (the last block computes that row alone) hold no weights.
    slices = [layer for layer in layers if layer.name.startswith("tf.__operators__.getitem")]
    assert len(slices) == 2 and not any(layer.weights for layer in slices)
    layers = [layer for layer in layers if layer not in slices]
    assert [layer.name for layer in layers] == [
        "quant_embeddings",
        "quant_layer_0",
        "quant_pooler",
        "quant_classifier",
    ]
    assert all(isinstance(layer, QuantizeWrapperV2) for layer in layers)
    # No float Dense: each has an output quantization point in its activation slot ...
    dense = [
        sub
        for layer in layers
        for sub in layer._flatten_layers()
        if isinstance(sub, keras.layers.Dense)
    ]
    assert len(dense) == 8  # q, k, v, attention output, intermediate, output, pooler, logits
    assert all(isinstance(d.activation, QuantizedActivation) for d in dense)
    # ... and every kernel and embedding table is fake-quantized by a wrapper.
    quantized = {id(w) for layer in layers for w, _, _ in layer._weight_vars}
    tables = [
        w for w in qat_model.trainable_weights if w.name.endswith(("kernel:0", "embeddings:0"))
    ]
    assert len(tables) == 11 and all(id(w) in quantized for w in tables)
    # Same interface; the float model keeps its own weights.
    assert sorted(qat_model.input) == sorted(model.input)
    assert list(qat_model.output) == list(model.output) == ["logits"]
    assert not {id(w) for w in model.weights} & {id(w) for w in qat_model.weights}
    np.testing.assert_array_equal(model(qat["features"])["logits"], qat["float_logits"])


def test_quantized_layers_compute_the_float_function(qat):
    # Same weights, ranges from one batch: only 8-bit rounding separates the two.
    expected, got = qat["float_logits"], qat["calibrated_logits"]
    assert np.abs(got - expected).max() <= 0.05 * np.abs(expected).max()
    assert np.mean(got.argmax(-1) == expected.argmax(-1)) == 1.0


def test_training_runs_and_learns_activation_ranges(qat):
    assert all(np.isfinite(qat["losses"])), qat["losses"]
    points = [layer for layer in qat["qat"]._flatten_layers() if isinstance(layer, FakeQuant)]
    assert len(points) == 18
    for point in points:
        low, high = point.range["min_var"].numpy(), point.range["max_var"].numpy()
        assert point.range["seen_var"].numpy() == 1.0 and low <= 0.0 <= high
        assert (low, high) != (-6.0, 6.0), point.name
    # Padded keys score -INT8_MASK_PENALTY in training as in the file, inside the range
    # of the masked scores' point (else the file's int8 SELECT clips it).
    (masked,) = [p for p in points if p.name == "masked_scores"]
    assert masked.range["min_var"].numpy() <= -INT8_MASK_PENALTY


def test_tflite_uses_builtin_ops_and_int8_matmuls(qat):
    ops = set(tfmodels.export.op_names(qat["path"]))
    assert ops <= BUILTIN, f"non-builtin ops: {ops - BUILTIN}"
    interpreter = Interpreter(model_path=qat["path"])
    tensors = interpreter.get_tensor_details()
    heavy = [
        op
        for op in interpreter._get_ops_details()
        if op["op_name"] in ("FULLY_CONNECTED", "BATCH_MATMUL")
    ]
    assert sorted(op["op_name"] for op in heavy).count("FULLY_CONNECTED") == 8
    assert sorted(op["op_name"] for op in heavy).count("BATCH_MATMUL") == 2
    for op in heavy:
        types = {tensors[i]["dtype"] for i in (*op["inputs"][:2], *op["outputs"])}
        assert types == {np.int8}, (op["op_name"], types)
        if op["op_name"] == "BATCH_MATMUL":  # keys and values: XNNPACK's zero point 0
            right = tensors[op["inputs"][1]]["quantization_parameters"]
            assert right["zero_points"].tolist() == [0]


def test_tflite_predictions_agree_with_the_qat_keras_model(qat):
    features = qat["features"]
    expected = qat["qat"](features)["logits"].numpy()
    runner = Interpreter(model_path=qat["path"]).get_signature_runner()
    got = np.concatenate(
        [
            runner(**{k: v[i : i + 1] for k, v in features.items()})["logits"]
            for i in range(len(expected))
        ]
    )
    agreement = np.mean(got.argmax(-1) == expected.argmax(-1))
    print(
        f"QAT TFLite vs QAT Keras: label agreement {agreement:.3f}, max |logit diff| "
        f"{np.abs(got - expected).max():.5f} (max |logit| {np.abs(expected).max():.5f})"
    )
    assert agreement == 1.0
    assert np.abs(got - expected).max() <= 0.1 * np.abs(expected).max()


def softmax_io(path):
    """For each SOFTMAX: (its input's dtype, the op writing that input, its output's
    dtype, the op reading that output)."""
    interpreter = Interpreter(model_path=path)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    writer = {o: op["op_name"] for op in ops for o in op["outputs"]}
    reader = {i: op["op_name"] for op in ops for i in op["inputs"]}
    return [
        (
            tensors[op["inputs"][0]]["dtype"],
            writer[op["inputs"][0]],
            tensors[op["outputs"][0]]["dtype"],
            reader[op["outputs"][0]],
        )
        for op in ops
        if op["op_name"] == "SOFTMAX"
    ]


def test_softmax_runs_in_float_between_int8_tensors_unless_told(qat, tmp_path):
    """LiteRT's int8 SOFTMAX runs outside XNNPACK: by default the QAT file runs it in
    float on the dequantized int8 scores (``export.float_islands``); ``float_ops=()``
    keeps the all-integer file, and rewriting that file gives the default one."""
    assert softmax_io(qat["path"]) == [(np.float32, "DEQUANTIZE", np.float32, "QUANTIZE")]
    integer = tfmodels.export.tflite(
        qat["qat"], str(tmp_path / "int.tflite"), seq_length=SEQ, quantize="qat", float_ops=()
    )
    assert softmax_io(integer) == [(np.int8, "SELECT_V2", np.int8, "BATCH_MATMUL")]
    with open(integer, "rb") as f:
        rewritten, count = run_in_float(f.read(), ("SOFTMAX", "MEAN"))
    assert count == 1  # MEAN is float in a QAT file (LayerNorm is not quantized): untouched
    (tmp_path / "rewritten.tflite").write_bytes(rewritten)
    features = {k: v[:1] for k, v in qat["features"].items()}
    outputs = [
        Interpreter(model_path=str(p)).get_signature_runner()(**features)["logits"]
        for p in (qat["path"], tmp_path / "rewritten.tflite", integer)
    ]
    np.testing.assert_array_equal(outputs[0], outputs[1])
    expected = qat["qat"](features)["logits"].numpy()
    for got in (outputs[0], outputs[2]):
        assert np.abs(got - expected).max() <= 0.1 * np.abs(expected).max()


def test_checkpoint_restores_weights_and_ranges(qat, tmp_path):
    qat_model, features = qat["qat"], qat["features"]
    expected = qat_model(features)["logits"].numpy()
    checkpoint = tf.train.Checkpoint(model=qat_model)
    path = checkpoint.write(str(tmp_path / "ckpt"))
    saved = [w.numpy() for w in qat_model.weights]
    for w in qat_model.weights:
        w.assign(tf.zeros_like(w))
    checkpoint.read(path).assert_consumed()
    for value, w in zip(saved, qat_model.weights):
        np.testing.assert_array_equal(value, w.numpy())
    np.testing.assert_array_equal(qat_model(features)["logits"], expected)


def test_masked_lm_keeps_its_tied_table_and_converts(tmp_path):
    model = bert.BertForMaskedLM(CONFIG)
    qat_model = quantize_model(model)
    wrappers = {layer.name: layer for layer in qat_model.layers}
    embedding_weights = {id(w) for w, _, _ in wrappers["quant_embeddings"]._weight_vars}
    head_weights = [w for w, _, _ in wrappers["quant_mlm"]._weight_vars]
    assert head_weights[1].name == "embeddings/word_embeddings:0"
    assert id(head_weights[1]) in embedding_weights  # one table, used twice
    assert len(qat_model.trainable_weights) == len(model.trainable_weights)
    # Keras traces each wrapper separately when saving: the head must not read a
    # tensor of the embedding layer's call (the converter would silently fall back
    # to a path that drops the signature).
    path = tfmodels.export.tflite(
        qat_model, str(tmp_path / "mlm.tflite"), seq_length=SEQ, quantize="qat"
    )
    interpreter = Interpreter(model_path=path)
    assert list(interpreter.get_signature_list()["serving_default"]["outputs"]) == [
        "mlm_logits",
        "sequence_output",
    ]
    assert set(tfmodels.export.op_names(path)) <= BUILTIN


class Scale(keras.layers.Layer):
    def call(self, x):
        return 2.0 * x


def test_unsupported_layer_is_named():
    inputs = keras.Input((4,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2)(Scale(name="scale")(inputs)))
    with pytest.raises(
        ConfigError,
        match=r"layer 'scale' \(Scale\) is not supported by QAT.*"
        r"Register a quantized version",
    ):
        quantize_model(model)


def test_a_registered_layer_is_quantized():
    scheme = TransformerQuantizeScheme()
    scheme.get_quantize_registry().register(Scale, Scale, weight_paths=(), quantize_output=True)
    inputs = keras.Input((4,), name="x")
    model = keras.Model(inputs, keras.layers.Dense(2, name="out")(Scale(name="scale")(inputs)))
    qat_model = quantize_model(model, scheme)
    assert [layer.name for layer in qat_model.layers[1:]] == ["quant_scale", "quant_out"]
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    qat_model(x, training=True)
    # The output quantizer's range is the first batch's: 2x in [-2, 2], so the
    # quantized values lie on a 4/255 grid.
    scaled = qat_model.layers[1](x).numpy()
    np.testing.assert_allclose(scaled, 2 * x, atol=2 / 255 + 1e-6)
    assert not np.allclose(scaled, 2 * x, atol=1e-5)


class Subclassed(keras.Model):
    def call(self, features):
        return features


def test_subclassed_model_is_refused():
    with pytest.raises(ConfigError, match="not a functional Keras model"):
        quantize_model(Subclassed(name="sub"))
