"""HF BART checkpoints load and match the reference outputs at real tokens (encoder and
decoder padding with pad id 1); saving is lossless; tied copies of ``shared`` and a
``model.``-prefixed BartModel are accepted; greedy generation matches HF ``generate``."""

import json
import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.conftest import fixture_path
from tests.convert.parity import (
    assert_parameter_count_equals_the_checkpoint,
    assert_save_pretrained_is_lossless,
    loaded,
    reference,
)
from tfmodels.convert import bart as converter
from tfmodels.errors import CheckpointError, ConfigError
from tfmodels.generation import generate
from tfmodels.models import bart
from tfmodels.models.seq2seq import FEATURES

FIXTURES = {"bart_tiny_model": bart.BartModel, "bart_tiny_lm": bart.BartForConditionalGeneration}
VOCAB = 99


def errors(model, name):
    """Max abs error of each reference output, at real encoder / decoder tokens."""
    ref = reference(name)
    out = model({k: ref[k] for k in FEATURES})
    masks = {
        "encoder_output": ref["input_mask"],
        "sequence_output": ref["decoder_input_mask"],
        "logits": ref["decoder_input_mask"],
    }
    result = {}
    for key, mask in masks.items():
        if key in ref and key in out:
            assert out[key].shape == ref[key].shape, key
            real = mask.astype(bool)
            result[key] = float(np.abs(np.asarray(out[key])[real] - ref[key][real]).max())
    return result


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_reference_at_real_tokens(name):
    ref = reference(name)
    assert not ref["input_mask"].all() and not ref["decoder_input_mask"].all()
    assert (ref["input_ids"][ref["input_mask"] == 0] == 1).all()  # padded with pad id 1
    model = loaded(name)
    assert type(model) is FIXTURES[name]  # chosen by config.json "architectures"
    assert_parameter_count_equals_the_checkpoint(name, converter)
    # HF counts final_logits_bias (a buffer) out of num_parameters(); we count it.
    extra = VOCAB if model.lm_head is not None else 0
    assert model.count_params() == ref["num_parameters"] + extra
    result = errors(model, name)
    assert set(result) >= {"encoder_output", "sequence_output"}  # compared, not skipped
    assert ("logits" in result) == (name == "bart_tiny_lm")
    assert max(result.values()) <= 1e-4, result


def test_fixtures_cover_both_embedding_scales():
    assert loaded("bart_tiny_model").config.scale_embedding
    assert not loaded("bart_tiny_lm").config.scale_embedding
    assert np.abs(loaded("bart_tiny_lm").lm_head.bias.numpy()).max() > 0.1


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    config, source = assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    for key in (
        "model_type",
        "d_model",
        "encoder_layers",
        "decoder_layers",
        "encoder_attention_heads",
        "decoder_attention_heads",
        "encoder_ffn_dim",
        "decoder_ffn_dim",
        "max_position_embeddings",
        "scale_embedding",
        "activation_function",
        "pad_token_id",
        "decoder_start_token_id",
        "vocab_size",
    ):
        assert config[key] == source[key], key
    reloaded = tfmodels.from_pretrained(str(tmp_path))
    assert max(errors(reloaded, name).values()) <= 1e-4


def test_tied_copies_and_model_prefix_are_accepted(tmp_path):
    target = tmp_path / "lm"
    shutil.copytree(fixture_path("bart_tiny_lm"), target)
    tensors = load_file(str(target / "model.safetensors"))
    for name in (
        "lm_head.weight",
        "model.encoder.embed_tokens.weight",
        "model.decoder.embed_tokens.weight",
    ):
        tensors[name] = tensors["model.shared.weight"]
    save_file(tensors, str(target / "model.safetensors"))
    assert max(errors(tfmodels.from_pretrained(str(target)), "bart_tiny_lm").values()) <= 1e-4
    # A BartModel checkpoint written with the "model." prefix.
    target = tmp_path / "prefixed"
    shutil.copytree(fixture_path("bart_tiny_model"), target)
    tensors = load_file(str(target / "model.safetensors"))
    save_file({f"model.{k}": v for k, v in tensors.items()}, str(target / "model.safetensors"))
    assert max(errors(tfmodels.from_pretrained(str(target)), "bart_tiny_model").values()) <= 1e-4


def test_backbone_and_lm_checkpoints_load_as_each_other():
    lm = tfmodels.from_pretrained(
        fixture_path("bart_tiny_model"), architecture="BartForConditionalGeneration"
    )
    assert not lm.lm_head.bias.numpy().any()  # newly initialized: zeros
    result = errors(lm, "bart_tiny_model")
    assert max(result.values()) <= 1e-4 and "logits" not in result
    backbone = tfmodels.from_pretrained(fixture_path("bart_tiny_lm"), architecture="BartModel")
    assert type(backbone) is bart.BartModel
    result = errors(backbone, "bart_tiny_lm")
    assert "logits" not in result and max(result.values()) <= 1e-4


def test_greedy_generation_matches_hf_generate():
    ref = reference("bart_tiny_generation")
    model = loaded("bart_tiny_generation")
    assert (ref["input_mask"] == 0).any()  # encoder inputs of different lengths
    assert len(np.unique(ref["greedy_ids"])) > 4  # HF's output is no single repeated token
    tokens = generate(
        model,
        {"input_ids": ref["input_ids"], "input_mask": ref["input_mask"]},
        max_new_tokens=20,
        pad_id=1,
    )
    np.testing.assert_array_equal(tokens, ref["greedy_ids"])


def test_a_wrong_checkpoint_is_refused(tmp_path):
    target = tmp_path / "bad"
    shutil.copytree(fixture_path("bart_tiny_model"), target)
    tensors = load_file(str(target / "model.safetensors"))
    tensors["decoder.layers.0.fc1.weight"] = tensors["decoder.layers.0.fc1.weight"][:, :16]
    del tensors["encoder.layernorm_embedding.bias"]
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(
        CheckpointError, match=r"encoder\.layernorm_embedding\.bias.*decoder\.layers\.0\.fc1"
    ):
        tfmodels.from_pretrained(str(target))


def test_an_mbart_style_config_is_refused(tmp_path):
    target = tmp_path / "prenorm"
    shutil.copytree(fixture_path("bart_tiny_model"), target)
    with open(target / "config.json") as f:
        config = json.load(f)
    config["normalize_before"] = True
    with open(target / "config.json", "w") as f:
        json.dump(config, f)
    with pytest.raises(ConfigError, match="normalize_before"):
        tfmodels.from_pretrained(str(target))
