"""LiteRT's per-operator profile of a TFLite file (tfmodels.export.tflite_profile).

On test_tflite's tiny classifier, converted once with a dynamic batch: the shares sum to
1, the op types (without XNNPACK) are the file's own ops, the XNNPACK rows collapse into
delegate partitions on request, and the CompiledModel that the profiler runs gives the
Interpreter's outputs.
"""

import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

import tfmodels
from tests.export.test_tflite import CONFIG, SEQ_LENGTH, random_features
from tfmodels.errors import ConfigError, DataError
from tfmodels.export import tflite_profile
from tfmodels.models import bert


@pytest.fixture(scope="module")
def path_and_inputs(tmp_path_factory):
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=3)
    path = tfmodels.export.tflite(
        model, str(tmp_path_factory.mktemp("profile") / "m.tflite"), seq_length=SEQ_LENGTH
    )
    features = random_features(np.random.default_rng(0), 2, CONFIG.vocab_size, SEQ_LENGTH)
    return path, features


def test_builtin_kernels_profile_the_files_own_ops(path_and_inputs):
    path, inputs = path_and_inputs
    rows = tflite_profile.profile(path, inputs, runs=3, xnnpack=False)
    assert abs(sum(row.share for row in rows) - 1) < 1e-9
    assert {row.op_type for row in rows} == set(tfmodels.export.op_names(path))
    assert all(row.ms >= 0 and row.count >= 1 for row in rows)
    assert [row.ms for row in rows] == sorted((row.ms for row in rows), reverse=True)
    # Each node runs once per run: the counts are the file's nodes per op type.
    nodes = Interpreter(model_path=path)._get_ops_details()
    fully_connected = sum(op["op_name"] == "FULLY_CONNECTED" for op in nodes)
    assert next(r.count for r in rows if r.op_type == "FULLY_CONNECTED") == fully_connected


def test_xnnpack_rows_and_delegate_partitions(path_and_inputs):
    path, inputs = path_and_inputs
    rows = tflite_profile.profile(path, inputs, runs=3)
    assert abs(sum(row.share for row in rows) - 1) < 1e-9
    delegated = [r for r in rows if r.op_type.startswith(tflite_profile.XNNPACK_PREFIX)]
    builtin = {r.op_type for r in rows} - {r.op_type for r in delegated}
    assert delegated, "XNNPACK took no op"
    assert any("Fully Connected" in r.op_type for r in delegated)
    assert builtin <= set(tfmodels.export.op_names(path))
    assert "FULLY_CONNECTED" not in builtin  # XNNPACK runs every matmul
    merged = tflite_profile.profile(path, inputs, runs=3, delegate_detail=False)
    assert abs(sum(row.share for row in merged) - 1) < 1e-9
    partitions = next(r for r in merged if r.op_type == tflite_profile.DELEGATE_ROW)
    assert 1 <= partitions.count <= sum(r.count for r in delegated)
    assert {r.op_type for r in merged} - {tflite_profile.DELEGATE_ROW} <= builtin
    table = tflite_profile.format_table(merged, "tiny")
    assert table.splitlines()[2] == "| op type | count | ms | share |"


def test_compiled_model_gives_the_interpreters_outputs(path_and_inputs):
    path, inputs = path_and_inputs
    expected = Interpreter(model_path=path).get_signature_runner()(**inputs)["logits"]
    with tflite_profile.CompiledModel(path) as model:
        for rows in (2, 1, 2):  # resized between runs
            got = model.run({k: v[:rows] for k, v in inputs.items()})["logits"]
            np.testing.assert_allclose(got, expected[:rows], atol=1e-6, rtol=0)
        outputs, events = model.profiled_run(inputs)
        assert any(tag == "Invoke" for tag, _, _ in events)


def test_bad_requests(path_and_inputs, tmp_path):
    path, inputs = path_and_inputs
    with pytest.raises(DataError, match="no such TFLite file"):
        tflite_profile.profile(str(tmp_path / "missing.tflite"), inputs)
    with pytest.raises(DataError, match="takes"):
        tflite_profile.profile(path, {"input_ids": inputs["input_ids"]})
    with pytest.raises(ConfigError, match="signature 'serving_8'"):
        tflite_profile.profile(path, inputs, signature="serving_8")
    with pytest.raises(ConfigError, match="runs=0"):
        tflite_profile.profile(path, inputs, runs=0)
