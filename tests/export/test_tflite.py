"""TFLite: builtin ops only, and each quantization within a measured bound of Keras.

Errors are relative to the largest |logit|: the head is scaled so that logits reach
+-8 (a fresh head's ~0.05 would hide any error under an absolute tolerance). Each
(model, quantization) is converted once per module and the file shared by the tests.
"""

import functools
import os

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.python import schema_py_generated as schema

import tfmodels
from tfmodels.errors import ConfigError
from tfmodels.models import bert

CONFIG = bert.Config(
    vocab_size=200,
    hidden_size=32,
    num_layers=2,
    num_heads=4,
    intermediate_size=64,
    max_position_embeddings=32,
)
SEQ_LENGTH = 16
# TFLite's builtin operators, as its flatbuffer schema lists them; Flex ops and custom
# ops (which need extra delegates on device) are not among them.
BUILTIN = {name for name in dir(schema.BuiltinOperator) if name.isupper()} - {"CUSTOM", "DELEGATE"}
# Bounds on max |TFLite - Keras| / max |Keras logit|. Measured on this model with 12
# draws (seeds 0-5, two ways of drawing the 32 rows; int8 calibrated on the rows it
# is evaluated on): the worst draw, then seed 0 (the one tested), in the comments.
BOUNDS = {
    None: 1e-5,  # 3.0e-7, 2.4e-7: float32 rounding only
    "float16": 1e-3,  # 4.3e-4, 2.7e-4
    "dynamic": 0.015,  # 1.0e-2, 5.4e-3
    "int8": 0.07,
}  # 4.9e-2, 2.5e-2


def assert_close_to_keras(got, expected, bound):
    """The relative error is within ``bound``, and the labels agree on every row whose
    top-2 margin exceeds ``bound`` x the largest |logit| (at least one such row). A
    margin of twice that would follow from the first check alone; at 1x, two logits of
    one row erring in opposite directions by over half the bound flip the label."""
    scale = np.abs(expected).max()
    error = np.abs(got - expected).max() / scale
    assert error <= bound, f"relative error {error:.2e} exceeds {bound:g}"
    top2 = np.sort(expected, -1)[:, -2:]
    decided = top2[:, 1] - top2[:, 0] > bound * scale
    assert decided.any(), "no row has a top-2 margin above the bound"
    np.testing.assert_array_equal(got.argmax(-1)[decided], expected.argmax(-1)[decided])


def random_features(rng, rows, vocab_size, seq_length):
    """Random ids with a random number of padded positions per row (at least 4 real)."""
    lengths = rng.integers(4, seq_length + 1, size=rows)
    mask = (np.arange(seq_length) < lengths[:, None]).astype(np.int32)
    ids = rng.integers(1, vocab_size, size=(rows, seq_length)).astype(np.int32) * mask
    return {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


@pytest.fixture(scope="module")
def model_and_features():
    tf.keras.utils.set_random_seed(0)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=3)
    features = random_features(np.random.default_rng(0), 32, CONFIG.vocab_size, SEQ_LENGTH)
    kernel = model.get_layer("classifier").out.kernel  # its bias is zero: logits scale with it
    kernel.assign(kernel * (8.0 / np.abs(model(features)["logits"]).max()))
    return model, features


@pytest.fixture(scope="module")
def converted(model_and_features, tmp_path_factory):
    """``converted(quantize)``: the file, converted on first use (int8 calibrated on the
    rows the tests evaluate, so its bound measures quantization, not calibration coverage)."""
    model, features = model_and_features
    folder = tmp_path_factory.mktemp("tflite")

    @functools.lru_cache(maxsize=None)
    def convert(quantize):
        return tfmodels.export.tflite(
            model,
            str(folder / f"{quantize}.tflite"),
            seq_length=SEQ_LENGTH,
            quantize=quantize,
            representative_data=features,
        )

    return convert


def run(path, features):
    runner = Interpreter(model_path=path).get_signature_runner()
    rows = len(features["input_ids"])
    return np.concatenate(
        [runner(**{k: v[i : i + 1] for k, v in features.items()})["logits"] for i in range(rows)]
    )


@pytest.mark.parametrize("quantize", list(BOUNDS))
def test_conversion_uses_builtin_ops_and_agrees_with_keras(quantize, model_and_features, converted):
    model, features = model_and_features
    path = converted(quantize)
    ops = set(tfmodels.export.op_names(path))
    assert ops <= BUILTIN, f"non-builtin ops: {ops - BUILTIN}"
    assert not [f for f in os.listdir(os.path.dirname(path)) if ".tmp" in f]
    assert_close_to_keras(run(path, features), model(features)["logits"].numpy(), BOUNDS[quantize])


def test_quantized_files_are_smaller(converted):
    float_size = os.path.getsize(converted(None))
    # Measured with the default dynamic batch, whose shape ops (SHAPE, PACK, ...) add
    # unquantized graph bytes to this tiny file: dynamic 0.56, int8 0.58 (with a fixed
    # batch 0.48 and 0.50).
    assert os.path.getsize(converted("dynamic")) < 0.6 * float_size
    assert os.path.getsize(converted("int8")) < 0.65 * float_size


def test_signature_of_input_ids_alone(model_and_features, tmp_path):
    """``inputs=("input_ids",)``: the file takes the ids alone, as HF models are called;
    the mask (all ones) and the segments (0) are constants of its graph."""
    model, features = model_and_features
    path = tfmodels.export.tflite(
        model, str(tmp_path / "ids.tflite"), seq_length=SEQ_LENGTH, inputs=("input_ids",)
    )
    runner = Interpreter(model_path=path).get_signature_runner()
    assert set(runner.get_input_details()) == {"input_ids"}
    assert set(tfmodels.export.op_names(path)) <= BUILTIN
    ids = features["input_ids"]
    full = {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": np.zeros_like(ids)}
    expected = model(full)["logits"].numpy()
    assert_close_to_keras(run(path, {"input_ids": ids}), expected, BOUNDS[None])
    padded = model(features)["logits"].numpy()  # the rows' own masks: other logits
    assert np.abs(padded - expected).max() > 100 * BOUNDS[None] * np.abs(expected).max()
    with pytest.raises(ConfigError, match="the signature needs input_ids"):
        tfmodels.export.tflite(model, str(tmp_path / "m.tflite"), inputs=("input_mask",))


def test_model_built_under_mixed_precision_exports_float32(model_and_features, tmp_path):
    """A model built under mixed_bfloat16 (as after a bf16 training run) computes in
    bfloat16, which TFLite's kernels do not take: the file is its float32 copy."""
    model, features = model_and_features
    tf.keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        bf16 = bert.BertForSequenceClassification(CONFIG, num_labels=3)
    finally:
        tf.keras.mixed_precision.set_global_policy("float32")
    bf16.set_weights(model.get_weights())
    assert bf16.compute_dtype == "bfloat16"
    path = tfmodels.export.tflite(bf16, str(tmp_path / "bf16.tflite"), seq_length=SEQ_LENGTH)
    assert_close_to_keras(run(path, features), model(features)["logits"].numpy(), BOUNDS[None])
    assert tf.keras.mixed_precision.global_policy().name == "float32"


def test_bad_requests(model_and_features, tmp_path):
    model, _ = model_and_features
    with pytest.raises(ConfigError, match="needs representative_data"):
        tfmodels.export.tflite(model, str(tmp_path / "m.tflite"), seq_length=16, quantize="int8")
    with pytest.raises(ConfigError, match="seq_length 64 exceeds max_position_embeddings 32"):
        tfmodels.export.tflite(model, str(tmp_path / "m.tflite"), seq_length=64)
    with pytest.raises(ConfigError, match="quantize='int4'"):
        tfmodels.export.tflite(model, str(tmp_path / "m.tflite"), quantize="int4")
    with pytest.raises(ConfigError, match="quantize='qat' needs a model from .*quantize_model"):
        tfmodels.export.tflite(model, str(tmp_path / "m.tflite"), seq_length=16, quantize="qat")


def test_run_export_script(tmp_path, tiny_checkpoint):
    from tests.conftest import one_line_error, run_script

    data = tmp_path / "calibration.tsv"
    data.write_text("text\tlabel\nfirst text\ta\nsecond text here\tb\n")
    result = run_script(
        "run_export.py",
        f"--init_from={tiny_checkpoint}",
        f"--export_dir={tmp_path / 'out'}",
        "--seq_length=16",
        "--quantize=int8",
        f"--calibration_file={data}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.isfile(tmp_path / "out" / "model_int8.tflite")
    assert os.path.isfile(tmp_path / "out" / "saved_model" / "saved_model.pb")
    bad = run_script(
        "run_export.py",
        f"--init_from={tiny_checkpoint}",
        f"--export_dir={tmp_path / 'out2'}",
        "--formats=tflite",
        "--quantize=int8",
        "--seq_length=16",
    )
    assert "--calibration_file: file not found" in one_line_error(bad)


def test_int8_attention_runs_in_the_shape_fast_kernels_take(converted):
    """The full-integer file: every attention BATCH_MATMUL has a right operand of zero
    point 0 (XNNPACK's condition for running it, ``export.calibration``) and the mask
    reaches the builtin SOFTMAX through a bounded constant, not -1e9."""
    path = converted("int8")
    interpreter = Interpreter(model_path=path)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    matmuls = [op for op in ops if op["op_name"] == "BATCH_MATMUL"]
    assert len(matmuls) == 2 * CONFIG.num_layers
    for op in matmuls:
        right = tensors[op["inputs"][1]]
        assert right["dtype"] == np.int8
        assert right["quantization_parameters"]["zero_points"].tolist() == [0]
    assert sum(op["op_name"] == "SOFTMAX" for op in ops) == CONFIG.num_layers
    assert not {"EXP", "DIV"} & {op["op_name"] for op in ops}
    # The masked scores (SELECT's output) are int8 with a usable scale; the softmax
    # itself takes them dequantized (float by default, see FLOAT_OPS).
    for op in ops:
        if op["op_name"] == "SELECT_V2":
            scores = tensors[op["outputs"][0]]
            scale = scores["quantization_parameters"]["scales"][0]
            assert scores["dtype"] == np.int8 and 255 * scale < 100  # -1e9 would need 4e6
    assert sum(op["op_name"] == "SELECT_V2" for op in ops) == CONFIG.num_layers


def test_int8_keeps_layer_norm_statistics_and_softmax_float_unless_told(
    converted, model_and_features, tmp_path
):
    """By default LayerNorm's statistics and the softmax stay float (XNNPACK runs them;
    see ``FLOAT_OPS``); ``float_ops=()`` makes every op integer, as NPUs need."""

    def statistics_dtypes(path):
        interpreter = Interpreter(model_path=path)
        tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
        dtypes = set()
        for name in ("SQUARED_DIFFERENCE", "SOFTMAX"):
            ops = [o for o in interpreter._get_ops_details() if o["op_name"] == name]
            assert ops
            dtypes |= {tensors[o["outputs"][0]]["dtype"] for o in ops}
        return dtypes

    assert statistics_dtypes(converted("int8")) == {np.float32}
    model, features = model_and_features
    path = tfmodels.export.tflite(
        model,
        str(tmp_path / "full.tflite"),
        seq_length=SEQ_LENGTH,
        quantize="int8",
        representative_data=features,
        float_ops=(),
    )
    assert statistics_dtypes(path) == {np.int8}
    assert_close_to_keras(run(path, features), model(features)["logits"].numpy(), BOUNDS["int8"])
