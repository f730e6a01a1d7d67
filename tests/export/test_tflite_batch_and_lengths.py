"""TFLite files with a dynamic batch dimension and several sequence-length signatures.

The default ``batch_size=None`` file runs batches of 1, 2 and 8 through the signature
runner (which resizes its inputs) and through ``resize_tensor_input`` +
``allocate_tensors``, and equals Keras; ``seq_length=(8, 16)`` writes ``serving_8`` and
``serving_16`` sharing one copy of the weights, each equal to a one-length file; the
runner of :mod:`tfmodels.export.tflite_lengths` picks the shortest length that fits.
"""

import functools
import re

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.python import schema_py_generated as schema

import tfmodels
from tests.export.test_tflite import BOUNDS, CONFIG, SEQ_LENGTH, random_features
from tfmodels.errors import ConfigError, DataError
from tfmodels.models import bert

BATCHES = (1, 2, 8)
FLOAT_ATOL = 1e-4  # absolute, on logits that reach +-8: measured 1.9e-6


@pytest.fixture(scope="module")
def model_and_features():
    """test_tflite's tiny classifier (logits scaled to reach +-8), 32 rows of 16 ids."""
    tf.keras.utils.set_random_seed(0)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=3)
    features = random_features(np.random.default_rng(1), 32, CONFIG.vocab_size, SEQ_LENGTH)
    kernel = model.get_layer("classifier").out.kernel
    kernel.assign(kernel * (8.0 / np.abs(model(features)["logits"]).max()))
    return model, features


@pytest.fixture(scope="module")
def converted(model_and_features, tmp_path_factory):
    """``converted(quantize, seq_length=16, batch_size=None)``: the file, converted once."""
    model, features = model_and_features
    folder = tmp_path_factory.mktemp("tflite_batch")

    def convert(quantize, seq_length=SEQ_LENGTH, batch_size=None):
        return cached(quantize, seq_length, batch_size)

    @functools.lru_cache(maxsize=None)
    def cached(quantize, seq_length, batch_size):
        name = re.sub(r"\W+", "_", f"{quantize}_{seq_length}_{batch_size}")
        return tfmodels.export.tflite(
            model,
            str(folder / f"{name}.tflite"),
            seq_length=seq_length,
            quantize=quantize,
            representative_data=features,
            batch_size=batch_size,
        )

    return convert


def assert_matches(got, expected, quantize, scale):
    """Float within FLOAT_ATOL; a quantized file within test_tflite's bound relative to
    ``scale`` (the largest |logit| of all rows), as there."""
    if quantize is None:
        np.testing.assert_allclose(got, expected, atol=FLOAT_ATOL, rtol=0)
    else:
        error = np.abs(got - expected).max() / scale
        assert error <= BOUNDS[quantize], f"relative error {error:.2e} > {BOUNDS[quantize]}"


def run_resized(path, features):
    """The file run the low-level way: resize every input, allocate, set, invoke."""
    interpreter = Interpreter(model_path=path)
    for detail in interpreter.get_input_details():
        interpreter.resize_tensor_input(detail["index"], features["input_ids"].shape)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        name = next(k for k in features if k in detail["name"])
        interpreter.set_tensor(detail["index"], features[name])
    interpreter.invoke()
    (output,) = interpreter.get_output_details()
    return interpreter.get_tensor(output["index"])


@pytest.mark.parametrize("quantize", [None, "dynamic", "float16", "int8"])
def test_dynamic_batch_runs_batches_of_1_2_8(quantize, model_and_features, converted):
    model, features = model_and_features
    path = converted(quantize)
    runner = Interpreter(model_path=path).get_signature_runner()
    for detail in runner.get_input_details().values():
        assert list(detail["shape_signature"]) == [-1, SEQ_LENGTH]
    expected = model(features)["logits"].numpy()
    scale = np.abs(expected).max()
    for batch in BATCHES:
        rows = {k: v[:batch] for k, v in features.items()}
        got = runner(**rows)["logits"]
        assert got.shape == (batch, 3)
        assert_matches(got, expected[:batch], quantize, scale)
        np.testing.assert_allclose(run_resized(path, rows), got, atol=1e-6, rtol=0)
    # The runner resizes back down: batch 8, then 1 again.
    got = runner(**{k: v[:1] for k, v in features.items()})["logits"]
    assert_matches(got, expected[:1], quantize, scale)
    # No shape computed at run time (export.static_reshapes): XNNPACK takes every
    # reshape, so the projections do not split its partitions.
    computed = {"SHAPE", "PACK", "REDUCE_PROD", "CONCATENATION"}
    assert not computed & set(tfmodels.export.op_names(path))


def test_a_qat_file_takes_any_batch_with_int8_projections(tmp_path):
    from tests.compression.test_qat import CONFIG as QAT_CONFIG
    from tests.compression.test_qat import SEQ, features_and_labels
    from tfmodels.compression.qat import quantize_model

    tf.keras.utils.set_random_seed(0)
    features, _ = features_and_labels(rows=8)
    qat = quantize_model(bert.BertForSequenceClassification(QAT_CONFIG, num_labels=3))
    qat(features, training=True)  # the first training batch sets the ranges
    path = tfmodels.export.tflite(qat, str(tmp_path / "qat.tflite"), seq_length=SEQ, quantize="qat")
    interpreter = Interpreter(model_path=path)
    tensors = interpreter.get_tensor_details()
    # The projections stay int8 FULLY_CONNECTED ops with a dynamic batch (dense_as_matmul).
    projections = [o for o in interpreter._get_ops_details() if o["op_name"] == "FULLY_CONNECTED"]
    assert len(projections) == 8
    for op in projections:
        assert {tensors[i]["dtype"] for i in (*op["inputs"][:2], *op["outputs"])} == {np.int8}
    runner = interpreter.get_signature_runner()
    expected = qat(features)["logits"].numpy()
    for batch in BATCHES:
        got = runner(**{k: v[:batch] for k, v in features.items()})["logits"]
        # test_qat's bound for the QAT file against the QAT Keras model.
        assert np.abs(got - expected[:batch]).max() <= 0.1 * np.abs(expected).max()


def test_integer_batch_size_keeps_its_fixed_shape(model_and_features, converted):
    model, features = model_and_features
    path = converted(None, batch_size=2)
    runner = Interpreter(model_path=path).get_signature_runner()
    assert list(runner.get_input_details()["input_ids"]["shape_signature"]) == [2, SEQ_LENGTH]
    rows = {k: v[:2] for k, v in features.items()}
    np.testing.assert_allclose(
        runner(**rows)["logits"], model(rows)["logits"].numpy(), atol=FLOAT_ATOL, rtol=0
    )
    with pytest.raises(ConfigError, match="batch_size=0"):
        tfmodels.export.tflite(model, "unused.tflite", seq_length=8, batch_size=0)


def shared_weight_bytes(path):
    """Bytes of the constant buffers used by more than one subgraph, and of all of them."""
    with open(path, "rb") as f:
        model = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(f.read(), 0))
    users = {}
    for index, subgraph in enumerate(model.subgraphs):
        for tensor in subgraph.tensors:
            data = model.buffers[tensor.buffer].data if tensor.buffer else None
            if data is not None and len(data):
                users.setdefault(tensor.buffer, set()).add(index)
    size = {b: len(model.buffers[b].data) for b in users}
    return sum(size[b] for b, s in users.items() if len(s) > 1), sum(size.values())


@pytest.mark.parametrize("quantize", [None, "int8"])
def test_several_lengths_share_the_weights_and_equal_one_length_files(
    quantize, model_and_features, converted
):
    model, features = model_and_features
    path = converted(quantize, seq_length=(16, 8))
    interpreter = Interpreter(model_path=path)
    assert sorted(interpreter.get_signature_list()) == ["serving_16", "serving_8"]
    assert [tfmodels.export.signature_name(n) for n in (8, 16)] == ["serving_8", "serving_16"]
    # The weights are stored once: all the constants but the position table's
    # per-length slice (and a few shape constants) are used by both subgraphs
    # (measured: float 0.95, int8 0.96 of the constant bytes).
    shared, total = shared_weight_bytes(path)
    assert shared > 0.9 * total, (shared, total)
    for length in (8, 16):
        rows = {k: v[:8, :length] for k, v in features.items()}
        runner = interpreter.get_signature_runner(f"serving_{length}")
        assert list(runner.get_input_details()["input_ids"]["shape_signature"]) == [-1, length]
        got = runner(**rows)["logits"]
        single = Interpreter(model_path=converted(quantize, seq_length=length))
        alone = single.get_signature_runner()(**rows)["logits"]
        expected = model(rows)["logits"].numpy()
        scale = np.abs(expected).max()
        if quantize is None:
            np.testing.assert_allclose(got, alone, atol=1e-6, rtol=0)
        else:  # the lookup ranges are shared over the lengths: other int8 roundings
            assert np.abs(got - alone).max() <= BOUNDS[quantize] * scale
        assert_matches(got, expected, quantize, scale)


def test_bad_lengths(model_and_features):
    model, _ = model_and_features
    for bad in ((), (8, 8), (0, 8), 8.0):
        with pytest.raises(ConfigError, match="seq_length="):
            tfmodels.export.tflite(model, "unused.tflite", seq_length=bad)
    with pytest.raises(ConfigError, match="seq_length 64 exceeds max_position_embeddings 32"):
        tfmodels.export.tflite(model, "unused.tflite", seq_length=(16, 64))


def test_runner_picks_the_shortest_fitting_length(model_and_features, converted):
    model, _ = model_and_features
    runner = tfmodels.export.tflite_runner(converted(None, seq_length=(16, 8)))
    assert runner.lengths == (8, 16)
    assert [runner.signature_for(n) for n in (1, 8, 9, 16)] == [
        "serving_8",
        "serving_8",
        "serving_16",
        "serving_16",
    ]
    rng = np.random.default_rng(0)
    texts = [rng.integers(1, CONFIG.vocab_size, size=n).astype(np.int32) for n in (5, 12, 8)]

    def keras(rows, length=SEQ_LENGTH):
        ids = np.zeros((len(rows), length), np.int32)
        for i, row in enumerate(rows):
            ids[i, : len(row)] = row
        features = {"input_ids": ids, "input_mask": (ids > 0).astype(np.int32)}
        features["segment_ids"] = np.zeros_like(ids)
        return model(features)["logits"].numpy()

    # One text (a list of ints): outputs without a batch axis, from serving_8.
    one = runner(list(texts[0]))
    assert one["logits"].shape == (3,)
    np.testing.assert_allclose(one["logits"], keras(texts[:1])[0], atol=FLOAT_ATOL, rtol=0)
    # Padding to 8 or to 16 gives the same logits (the mask hides the padding).
    np.testing.assert_allclose(one["logits"], keras(texts[:1], 8)[0], atol=FLOAT_ATOL, rtol=0)
    # A batch of rows of different lengths runs at the longest row's signature.
    batch = runner(texts)
    assert batch["logits"].shape == (3, 3)
    np.testing.assert_allclose(batch["logits"], keras(texts), atol=FLOAT_ATOL, rtol=0)


def test_runner_rejects_too_long_input(converted):
    runner = tfmodels.export.tflite_runner(converted(None, seq_length=(16, 8)))
    too_long = "input of 17 tokens is longer than the longest signature of .*serving_16, 16 tokens"
    with pytest.raises(DataError, match=too_long):
        runner(list(range(1, 18)))
    with pytest.raises(DataError, match="input of 20 tokens"):
        runner([[1, 2, 3], list(range(1, 21))])
    with pytest.raises(DataError, match="input_ids: no token ids"):
        runner([])


def test_runner_of_a_one_length_file_with_a_fixed_batch(model_and_features, converted):
    """A one-length ``serving_default`` file of batch 2 runs 3 rows as 2 + (1 + 1 empty)."""
    model, features = model_and_features
    runner = tfmodels.export.tflite_runner(converted(None, batch_size=2))
    assert runner.signatures == {SEQ_LENGTH: "serving_default"}
    rows = features["input_ids"][:3]  # full rows: 16 ids, some of them padding ids 0
    got = runner(rows)["logits"]
    full = {"input_ids": rows, "input_mask": np.ones_like(rows), "segment_ids": 0 * rows}
    np.testing.assert_allclose(got, model(full)["logits"].numpy(), atol=FLOAT_ATOL, rtol=0)
    with pytest.raises(DataError, match="input of 17 tokens .*serving_default, 16 tokens"):
        runner(list(range(1, 18)))


def test_runner_of_an_ids_only_file_needs_full_rows(model_and_features, tmp_path):
    model, features = model_and_features
    path = tfmodels.export.tflite(
        model, str(tmp_path / "ids.tflite"), seq_length=SEQ_LENGTH, inputs=("input_ids",)
    )
    runner = tfmodels.export.tflite_runner(path)
    ids = features["input_ids"][:2]
    full = {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": 0 * ids}
    np.testing.assert_allclose(
        runner(ids)["logits"], model(full)["logits"].numpy(), atol=FLOAT_ATOL, rtol=0
    )
    with pytest.raises(ConfigError, match="takes input_ids alone .* exactly 16 ids"):
        runner([1, 2, 3])
