"""The SavedModel answers raw text in a fresh process that has only TensorFlow + tf-text."""

import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import tfmodels

LOAD = """
import sys, json
import tensorflow as tf, tensorflow_text  # noqa: F401  (registers the tokenizer ops)
loaded = tf.saved_model.load(sys.argv[1])
print(sorted(loaded.signatures))
out = loaded.signatures["serving_default"](text=tf.constant(["a test sentence", "another"]))
print(json.dumps({k: v.numpy().tolist() for k, v in out.items() if k != "label"}))
print(json.dumps([x.decode() for x in out["label"].numpy()]))
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory, tiny_checkpoint):
    """(model, preprocessor, export_dir): one export that both tests read."""
    model = tfmodels.from_pretrained(tiny_checkpoint, architecture="classification", num_labels=3)
    pre = tfmodels.preprocessor_from_pretrained(tiny_checkpoint, seq_length=16)
    # A fresh head gives logits near 0.006, too close together for the checks below
    # to tell texts or paddings apart: scale them to +-8 (its bias is zero).
    kernel = model.get_layer("classifier").out.kernel
    logits = model(pre(tf.constant(["a test sentence", "another one"])))["logits"]
    kernel.assign(kernel * (8.0 / np.abs(logits).max()))
    export_dir = str(tmp_path_factory.mktemp("saved_model") / "exported")
    tfmodels.export.saved_model(
        model, export_dir, preprocessor=pre, label_names=["neg", "neutral", "pos"]
    )
    return model, pre, export_dir


def test_text_and_id_signatures_in_a_fresh_process(exported):
    model, pre, export_dir = exported
    parent = os.path.dirname(export_dir)
    assert not [p for p in os.listdir(parent) if ".tmp" in p]
    assert "vocab.txt" in os.listdir(os.path.join(export_dir, "assets"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    code = "import sys; sys.modules['tfmodels'] = None\n" + LOAD  # tfmodels must not be needed
    result = subprocess.run(
        [sys.executable, "-c", code, export_dir],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=parent,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "['serve_ids', 'serving_default']"
    import json

    outputs, labels = json.loads(lines[1]), json.loads(lines[2])
    expected = model(pre(tf.constant(["a test sentence", "another"])))["logits"].numpy()
    np.testing.assert_allclose(outputs["logits"], expected, atol=1e-5)
    np.testing.assert_allclose(np.sum(outputs["probabilities"], -1), 1.0, atol=1e-5)
    assert labels == [["neg", "neutral", "pos"][i] for i in expected.argmax(-1)]
    ids = tf.saved_model.load(export_dir).signatures["serve_ids"](
        **pre(tf.constant(["a test sentence"]))
    )
    np.testing.assert_allclose(ids["logits"], expected[:1], atol=1e-5)


def test_serve_input_ids_fills_mask_and_segments(exported):
    """``serve_input_ids`` (a function, not a signature) answers as ``serve_ids`` given a
    mask of ones and segments 0, the way HF models take ``input_ids`` alone."""
    model, pre, export_dir = exported
    loaded = tf.saved_model.load(export_dir)
    assert sorted(loaded.signatures) == ["serve_ids", "serving_default"]
    ids = pre(tf.constant(["a test sentence", "another one"]))["input_ids"]
    got = loaded.serve_input_ids(ids)
    full = loaded.signatures["serve_ids"](
        input_ids=ids, input_mask=tf.ones_like(ids), segment_ids=tf.zeros_like(ids)
    )
    assert set(got) == {"logits", "probabilities", "label"}
    np.testing.assert_array_equal(got["logits"], full["logits"])
    np.testing.assert_array_equal(got["label"], full["label"])
    padded = model(pre(tf.constant(["a test sentence", "another one"])))["logits"]
    assert np.abs(padded - got["logits"]).max() > 1e-5  # the padding mattered: not a no-op


def test_saved_model_cli_lists_both_signatures(exported):
    """What a TF Serving user checks first: ``saved_model_cli show --all``."""
    export_dir = exported[2]
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [cli, "show", "--dir", export_dir, "--all"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for expected in (
        "signature_def['serving_default']",
        "signature_def['serve_ids']",
        "inputs['text']",
        "inputs['input_ids']",
        "outputs['probabilities']",
        "outputs['label']",
    ):
        assert expected in result.stdout
