"""TFLite: builtin ops only, float parity with Keras, quantized variants run."""
import os

import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter
from tensorflow.lite.python import schema_py_generated as schema

import tfmodels
from tfmodels.errors import ConfigError
from tfmodels.models import bert

CONFIG = bert.Config(vocab_size=200, hidden_size=32, num_layers=2, num_heads=4,
                     intermediate_size=64, max_position_embeddings=32)
# TFLite's builtin operators, as its flatbuffer schema lists them; Flex ops and custom
# ops (which need extra delegates on device) are not among them.
BUILTIN = {name for name in dir(schema.BuiltinOperator) if name.isupper()} - {"CUSTOM", "DELEGATE"}


@pytest.fixture(scope="module")
def model_and_features():
    tf.keras.utils.set_random_seed(0)
    model = bert.BertClassifier(CONFIG, num_labels=3)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 200, size=(6, 16)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[2:, 10:] = 0
    ids[mask == 0] = 0
    return model, {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}


def run(path, features):
    runner = Interpreter(model_path=path).get_signature_runner()
    rows = len(features["input_ids"])
    return np.concatenate([runner(**{k: v[i:i + 1] for k, v in features.items()})["logits"]
                           for i in range(rows)])


@pytest.mark.parametrize("quantize", [None, "dynamic", "float16", "int8"])
def test_conversion_uses_builtin_ops_and_agrees_with_keras(quantize, model_and_features,
                                                           tmp_path):
    model, features = model_and_features
    path = tfmodels.export.tflite(model, str(tmp_path / "m.tflite"), seq_length=16,
                                  quantize=quantize, representative_data=features)
    ops = set(tfmodels.export.op_names(path))
    assert ops <= BUILTIN, f"non-builtin ops: {ops - BUILTIN}"
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]
    expected = model(features)["logits"].numpy()
    got = run(path, features)
    if quantize is None:
        assert np.max(np.abs(got - expected)) <= 1e-3
    else:
        assert np.mean(got.argmax(-1) == expected.argmax(-1)) >= 0.5
        assert np.max(np.abs(got - expected)) <= 0.5


def test_quantized_files_are_smaller(model_and_features, tmp_path):
    model, features = model_and_features
    sizes = {q: os.path.getsize(tfmodels.export.tflite(
        model, str(tmp_path / f"{q}.tflite"), seq_length=16, quantize=q,
        representative_data=features)) for q in (None, "dynamic")}
    assert sizes["dynamic"] < 0.5 * sizes[None]


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
    from tests.conftest import run_script
    data = tmp_path / "calibration.tsv"
    data.write_text("text\tlabel\nfirst text\ta\nsecond text here\tb\n")
    result = run_script("run_export.py", f"--init_from={tiny_checkpoint}",
                        f"--export_dir={tmp_path / 'out'}", "--seq_length=16", "--quantize=int8",
                        f"--calibration_file={data}")
    assert result.returncode == 0, result.stderr[-2000:]
    assert os.path.isfile(tmp_path / "out" / "model_int8.tflite")
    assert os.path.isfile(tmp_path / "out" / "saved_model" / "saved_model.pb")
    bad = run_script("run_export.py", f"--init_from={tiny_checkpoint}",
                     f"--export_dir={tmp_path / 'out2'}", "--formats=tflite", "--quantize=int8",
                     "--seq_length=16")
    assert bad.returncode == 2 and "--calibration_file: file not found" in bad.stderr
