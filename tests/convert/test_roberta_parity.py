"""HF RoBERTa checkpoints load and match the reference outputs; saving is lossless."""

import shutil

import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.conftest import fixture_path
from tests.convert.parity import (
    assert_outputs_match_reference,
    assert_reloads_with_the_reference_outputs,
    assert_save_pretrained_is_lossless,
    error_at_real_tokens,
    loaded,
    reference,
    run,
)
from tfmodels.models import roberta

FIXTURES = {
    "roberta_tiny_model": roberta.RobertaModel,
    "roberta_tiny_masked_lm": roberta.RobertaForMaskedLM,
    "roberta_tiny_classifier": roberta.RobertaForSequenceClassification,
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_reference_at_real_tokens(name):
    """Per-token outputs are compared at real tokens only: the reference gives padding
    its own position (``pad_token_id``), and padding is never attended to."""
    ref = reference(name)
    mask = ref["input_mask"].astype(bool)
    assert not mask.all() and (ref["input_ids"][~mask] == 1).all()  # padded rows, <pad> = 1
    model = loaded(name)
    assert type(model) is FIXTURES[name]
    assert model.count_params() == ref["num_parameters"]  # the reference's num_parameters()
    assert_outputs_match_reference(name, None, skip=("num_parameters",), from_encoder=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    config, _ = assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    assert (config["model_type"], config["pad_token_id"], config["type_vocab_size"]) == (
        "roberta",
        1,
        1,
    )
    key = "logits" if "logits" in reference(name) else "sequence_output"
    assert_reloads_with_the_reference_outputs(tmp_path, name, (key,))


def test_backbone_checkpoint_fine_tunes_with_a_new_head():
    model = tfmodels.from_pretrained(
        fixture_path("roberta_tiny_model"),
        architecture="RobertaForSequenceClassification",
        num_labels=5,
    )
    ref = reference("roberta_tiny_model")
    assert run(model, ref)["logits"].shape == (3, 5)
    got = run(model.encoder, ref)["sequence_output"]
    assert error_at_real_tokens(got, ref["sequence_output"], ref["input_mask"]) <= 1e-4


def test_tied_decoder_copies_in_a_checkpoint_are_accepted(tmp_path):
    target = tmp_path / "mlm"
    shutil.copytree(fixture_path("roberta_tiny_masked_lm"), target)
    tensors = load_file(str(target / "model.safetensors"))
    tensors["lm_head.decoder.weight"] = tensors["roberta.embeddings.word_embeddings.weight"]
    tensors["lm_head.decoder.bias"] = tensors["lm_head.bias"]
    save_file(tensors, str(target / "model.safetensors"))
    ref = reference("roberta_tiny_masked_lm")
    got = run(tfmodels.from_pretrained(str(target)), ref)["mlm_logits"]
    assert error_at_real_tokens(got, ref["mlm_logits"], ref["input_mask"]) <= 1e-4
