"""HF checkpoints load and match the reference outputs; errors are clear; saving is lossless."""

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.conftest import fixture_path, max_abs_diff
from tests.convert.parity import (
    assert_outputs_match_reference,
    assert_reloads_with_the_reference_outputs,
    assert_save_pretrained_is_lossless,
    loaded,
    reference,
    run,
)
from tfmodels.errors import CheckpointError, ConfigError

FIXTURES = {
    "bert_tiny_model": "BertModel",
    "bert_tiny_pretraining": "BertForPreTraining",
    "bert_tiny_masked_lm": "BertForMaskedLM",
    "bert_tiny_classifier": "BertForSequenceClassification",
}


@pytest.mark.parametrize("name", FIXTURES)
def test_outputs_match_reference(name):
    assert_outputs_match_reference(name, FIXTURES[name], everywhere=True, from_encoder=True)


def test_google_checkpoint_matches_reference():
    ref = reference("bert_tiny_pretraining")
    model = tfmodels.from_pretrained(fixture_path("google_bert_tiny"))
    assert model.architecture == "BertForPreTraining"
    out = run(model, ref)
    for key in ("sequence_output", "mlm_logits", "sentence_logits"):
        assert max_abs_diff(out[key], ref[key]) <= 1e-4, key


def test_google_checkpoint_as_backbone():
    ref = reference("bert_tiny_pretraining")
    model = tfmodels.from_pretrained(fixture_path("google_bert_tiny"), architecture="BertModel")
    assert max_abs_diff(run(model, ref)["sequence_output"], ref["sequence_output"]) <= 1e-4


@pytest.mark.parametrize("name", FIXTURES)
def test_save_pretrained_is_lossless(name, tmp_path):
    assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    key = "logits" if "logits" in reference(name) else "sequence_output"
    assert_reloads_with_the_reference_outputs(tmp_path, name, (key,), everywhere=True)


def test_backbone_checkpoint_fine_tunes_with_a_new_head():
    model = tfmodels.from_pretrained(
        fixture_path("bert_tiny_model"), architecture="BertForSequenceClassification", num_labels=5
    )
    ref = reference("bert_tiny_model")
    assert run(model, ref)["logits"].shape == (3, 5)
    assert max_abs_diff(run(model.encoder, ref)["sequence_output"], ref["sequence_output"]) <= 1e-4


def _copy_fixture(tmp_path, name="bert_tiny_model"):
    target = tmp_path / name
    shutil.copytree(fixture_path(name), target)
    return target


def test_wrong_shapes_are_listed(tmp_path):
    target = _copy_fixture(tmp_path)
    tensors = load_file(str(target / "model.safetensors"))
    tensors["encoder.layer.0.attention.self.query.weight"] = np.zeros([32, 31], np.float32)
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(
        CheckpointError, match=r"wrong shapes: encoder\.layer\.0\.attention\.self\.query\.weight"
    ):
        tfmodels.from_pretrained(str(target))


def test_missing_and_unexpected_weights_are_listed(tmp_path):
    target = _copy_fixture(tmp_path)
    tensors = load_file(str(target / "model.safetensors"))
    del tensors["pooler.dense.weight"]
    tensors["encoder.layer.7.output.dense.weight"] = np.zeros([2, 2], np.float32)
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(CheckpointError) as err:
        tfmodels.from_pretrained(str(target))
    message = str(err.value)
    assert "missing weights: pooler.dense.weight" in message
    assert "unexpected weights: encoder.layer.7.output.dense.weight" in message


def test_classifier_checkpoint_is_not_loaded_silently_as_pretrainer(tmp_path):
    target = _copy_fixture(tmp_path, "bert_tiny_classifier")
    config = json.loads((target / "config.json").read_text())
    config["architectures"] = ["BertForPreTraining"]
    (target / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="missing weights: cls.predictions.bias"):
        tfmodels.from_pretrained(str(target))


def test_unknown_architecture_and_family(tmp_path):
    target = _copy_fixture(tmp_path)
    config = json.loads((target / "config.json").read_text())
    (target / "config.json").write_text(json.dumps({**config, "architectures": ["BertForX"]}))
    with pytest.raises(ConfigError, match="unknown architecture 'BertForX'.*BertModel"):
        tfmodels.from_pretrained(str(target))
    (target / "config.json").write_text(json.dumps({**config, "model_type": "gpt9"}))
    with pytest.raises(ConfigError, match="unknown model family 'gpt9'"):
        tfmodels.from_pretrained(str(target))


def test_bad_paths_and_corrupt_files(tmp_path):
    with pytest.raises(CheckpointError, match="checkpoint directory not found"):
        tfmodels.from_pretrained(str(tmp_path / "nowhere"))
    with pytest.raises(CheckpointError, match="neither config.json"):
        tfmodels.from_pretrained(str(tmp_path))
    target = _copy_fixture(tmp_path)
    (target / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="cannot read .*model.safetensors"):
        tfmodels.from_pretrained(str(target))
    (target / "config.json").write_text("{broken")
    with pytest.raises(CheckpointError, match="config.json is not valid JSON"):
        tfmodels.from_pretrained(str(target))
