"""HF GPT-2 checkpoints load and match the reference outputs; saving is lossless; the tied
``lm_head.weight`` and the old causal-mask buffers are accepted when a checkpoint has them."""

import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.conftest import fixture_path
from tests.convert.parity import (
    assert_outputs_match_reference,
    assert_parameter_count_equals_the_checkpoint,
    assert_reloads_with_the_reference_outputs,
    assert_save_pretrained_is_lossless,
    error_at_real_tokens,
    loaded,
    reference,
    run,
)
from tfmodels.convert import gpt2 as converter
from tfmodels.errors import CheckpointError
from tfmodels.models import gpt2

FIXTURES = {"gpt2_tiny_model": gpt2.GPT2Model, "gpt2_tiny_lm": gpt2.GPT2LMHeadModel}
SKIP = ("num_parameters", "block_outputs")


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_reference_at_real_tokens(name):
    ref = reference(name)
    mask = ref["input_mask"].astype(bool)
    assert not mask.all() and (np.diff(mask.astype(int), axis=1) <= 0).all()  # right-padded
    model = loaded(name)
    assert type(model) is FIXTURES[name]  # chosen by config.json "architectures"
    assert model.count_params() == ref["num_parameters"]  # HF num_parameters()
    assert_parameter_count_equals_the_checkpoint(name, converter)
    compared = assert_outputs_match_reference(name, FIXTURES[name].architecture, skip=SKIP)
    assert "sequence_output" in compared
    # Block outputs before ln_f (HF hidden_states[1:-1]); the last one is ln_f's input.
    encoder = getattr(model, "encoder", model)
    blocks = np.stack(run(encoder, ref)["encoder_outputs"][:-1])
    assert error_at_real_tokens(blocks, ref["block_outputs"], ref["input_mask"]) <= 1e-4


def test_lm_logits_are_compared():
    assert "logits" in assert_outputs_match_reference("gpt2_tiny_lm", "GPT2LMHeadModel", skip=SKIP)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    config, source = assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    for key in (
        "model_type",
        "n_embd",
        "n_layer",
        "n_head",
        "n_positions",
        "vocab_size",
        "layer_norm_epsilon",
        "activation_function",
        "resid_pdrop",
        "embd_pdrop",
    ):
        assert config[key] == source[key], key
    assert "lm_head.weight" not in load_file(str(tmp_path / "model.safetensors"))
    key = "logits" if "logits" in reference(name) else "sequence_output"
    assert_reloads_with_the_reference_outputs(tmp_path, name, (key,))


def test_stored_lm_head_and_mask_buffers_are_accepted(tmp_path):
    target = tmp_path / "lm"
    shutil.copytree(fixture_path("gpt2_tiny_lm"), target)
    tensors = load_file(str(target / "model.safetensors"))
    tensors["lm_head.weight"] = tensors["transformer.wte.weight"]
    causal = np.tril(np.ones((64, 64), np.uint8))[None, None]
    for i in range(2):
        tensors[f"transformer.h.{i}.attn.bias"] = causal
        tensors[f"transformer.h.{i}.attn.masked_bias"] = np.array(-1e4, np.float32)
    save_file(tensors, str(target / "model.safetensors"))
    ref = reference("gpt2_tiny_lm")
    got = run(tfmodels.from_pretrained(str(target)), ref)["logits"]
    assert error_at_real_tokens(got, ref["logits"], ref["input_mask"]) <= 1e-4


def test_backbone_checkpoint_loads_as_lm():
    model = tfmodels.from_pretrained(
        fixture_path("gpt2_tiny_model"), architecture="GPT2LMHeadModel"
    )
    ref = reference("gpt2_tiny_model")
    got = run(model, ref)
    assert got["logits"].shape == ref["input_ids"].shape + (99,)
    assert (
        error_at_real_tokens(got["sequence_output"], ref["sequence_output"], ref["input_mask"])
        <= 1e-4
    )


def test_a_wrong_checkpoint_is_refused(tmp_path):
    target = tmp_path / "bad"
    shutil.copytree(fixture_path("gpt2_tiny_model"), target)
    tensors = load_file(str(target / "model.safetensors"))
    tensors["h.1.attn.c_attn.weight"] = tensors["h.1.attn.c_attn.weight"][:, :64]  # no v
    del tensors["ln_f.bias"]
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"ln_f\.bias.*h\.1\.attn\.c_attn\.weight"):
        tfmodels.from_pretrained(str(target))
