"""HF RoBERTa checkpoints load and match the reference outputs; saving is lossless."""
import json
import os
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tfmodels.models import roberta
from tests.conftest import fixture_path, max_abs_diff

FIXTURES = {"roberta_tiny_model": roberta.RobertaEncoder,
            "roberta_tiny_masked_lm": roberta.RobertaMaskedLM,
            "roberta_tiny_classifier": roberta.RobertaClassifier}
INPUTS = ("input_ids", "input_mask", "segment_ids")


def reference(name):
    return dict(np.load(fixture_path(name, "reference.npz")))


def run(model, ref):
    return model({k: ref[k] for k in INPUTS})


def at_real_tokens(key, values, mask):
    """Per-token outputs at real tokens only: the reference gives padding its own
    position (``pad_token_id``), and padding is never attended to."""
    values = np.asarray(values)
    if key == "encoder_outputs":
        return values[:, mask]
    if key in ("sequence_output", "mlm_logits"):
        return values[mask]
    return values


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_reference_at_real_tokens(name):
    ref = reference(name)
    mask = ref["input_mask"].astype(bool)
    assert not mask.all() and (ref["input_ids"][~mask] == 1).all()  # padded rows, <pad> = 1
    model = tfmodels.from_pretrained(fixture_path(name))
    assert type(model) is FIXTURES[name]
    assert model.count_params() == ref["num_parameters"]  # the reference's num_parameters()
    out = run(model, ref)
    compared = 0
    for key, expected in ref.items():
        if key in INPUTS or key == "num_parameters":
            continue
        got = np.stack(out[key]) if key == "encoder_outputs" else out[key]
        assert max_abs_diff(at_real_tokens(key, got, mask),
                            at_real_tokens(key, expected, mask)) <= 1e-4, key
        compared += 1
    assert compared >= 1


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    model = tfmodels.from_pretrained(fixture_path(name))
    tfmodels.save_pretrained(model, str(tmp_path))
    original = load_file(fixture_path(name, "model.safetensors"))
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert set(saved) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(saved[key], value)
    assert not [f for f in os.listdir(tmp_path) if ".tmp" in f]
    with open(tmp_path / "config.json") as f:
        config = json.load(f)
    assert config["architectures"] == [model.architecture]
    assert (config["model_type"], config["pad_token_id"], config["type_vocab_size"]) == \
        ("roberta", 1, 1)
    ref = reference(name)
    mask = ref["input_mask"].astype(bool)
    key = "logits" if "logits" in ref else "sequence_output"
    again = run(tfmodels.from_pretrained(str(tmp_path)), ref)[key]
    assert max_abs_diff(at_real_tokens(key, again, mask),
                        at_real_tokens(key, ref[key], mask)) <= 1e-4


def test_backbone_checkpoint_fine_tunes_with_a_new_head():
    model = tfmodels.from_pretrained(fixture_path("roberta_tiny_model"),
                                     architecture="RobertaForSequenceClassification",
                                     num_labels=5)
    ref = reference("roberta_tiny_model")
    mask = ref["input_mask"].astype(bool)
    assert run(model, ref)["logits"].shape == (3, 5)
    got = run(model.encoder, ref)["sequence_output"]
    assert max_abs_diff(np.asarray(got)[mask], ref["sequence_output"][mask]) <= 1e-4


def test_tied_decoder_copies_in_a_checkpoint_are_accepted(tmp_path):
    target = tmp_path / "mlm"
    shutil.copytree(fixture_path("roberta_tiny_masked_lm"), target)
    tensors = load_file(str(target / "model.safetensors"))
    tensors["lm_head.decoder.weight"] = tensors["roberta.embeddings.word_embeddings.weight"]
    tensors["lm_head.decoder.bias"] = tensors["lm_head.bias"]
    save_file(tensors, str(target / "model.safetensors"))
    ref = reference("roberta_tiny_masked_lm")
    mask = ref["input_mask"].astype(bool)
    got = run(tfmodels.from_pretrained(str(target)), ref)["mlm_logits"]
    assert max_abs_diff(np.asarray(got)[mask], ref["mlm_logits"][mask]) <= 1e-4
