"""HF XLNet checkpoints load and match the reference: content stream, LM logits, the query
stream with perm_mask/target_mapping, Transformer-XL memory, HF's greedy generation;
saving is lossless; a wrong checkpoint is refused."""

import shutil

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.conftest import fixture_path, max_abs_diff
from tests.convert.parity import (
    IDS,
    assert_outputs_match_reference,
    assert_parameter_count_equals_the_checkpoint,
    assert_reloads_with_the_reference_outputs,
    assert_save_pretrained_is_lossless,
    error_at_real_tokens,
    loaded,
    reference,
)
from tfmodels.convert import xlnet as converter
from tfmodels.convert.weight_map import check_and_assign, read_weights
from tfmodels.errors import CheckpointError
from tfmodels.models import xlnet

FIXTURES = {"xlnet_tiny_model": xlnet.XLNetModel, "xlnet_tiny_lm": xlnet.XLNetLMHeadModel}
EXTRA = (
    "num_parameters",
    "mem_input_ids",
    "sequence_output_with_mems",
    "perm_mask",
    "target_mapping",
    "two_stream_logits",
    "prompt_ids",
    "generated_ids",
    "generated_logits",
    "generated_ids_mems",
)


@pytest.fixture(scope="module")
def permutation_lm():
    """The LM fixture loaded as the two-stream pre-training model."""
    return tfmodels.from_pretrained(fixture_path("xlnet_tiny_lm"), architecture="pretraining")


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_reference_at_real_tokens(name):
    ref = reference(name)
    assert not ref["input_mask"].all() and len(np.unique(ref["segment_ids"])) == 2
    model = loaded(name)
    assert type(model) is FIXTURES[name]  # chosen by config.json "architectures"
    assert model.count_params() == ref["num_parameters"]  # HF num_parameters(), mask_emb too
    assert_parameter_count_equals_the_checkpoint(name, converter)
    compared = assert_outputs_match_reference(name, FIXTURES[name].architecture, skip=EXTRA)
    assert compared == (["sequence_output"] if name == "xlnet_tiny_model" else ["logits"])


def test_segments_matter():
    """The segment term is live: all-zero segment_ids change the output."""
    ref = reference("xlnet_tiny_model")
    out = loaded("xlnet_tiny_model")(
        {**{k: ref[k] for k in IDS}, "segment_ids": np.zeros_like(ref["segment_ids"])}
    )
    assert (
        error_at_real_tokens(out["sequence_output"], ref["sequence_output"], ref["input_mask"])
        > 1e-2
    )


def test_query_stream_matches_reference(permutation_lm):
    ref = reference("xlnet_tiny_lm")
    assert type(permutation_lm) is xlnet.XLNetPermutationLM
    out = permutation_lm({k: ref[k] for k in IDS + ("perm_mask", "target_mapping")})
    assert out["logits"].shape == ref["two_stream_logits"].shape  # [B, P, V]
    assert max_abs_diff(out["logits"], ref["two_stream_logits"]) <= 1e-4


def test_memory_matches_reference():
    """A previous segment's hidden states as memory (HF mems) give HF's output."""
    ref = reference("xlnet_tiny_model")
    source = loaded("xlnet_tiny_model")
    model = xlnet.XLNetModel(source.config, with_mems=True)
    check_and_assign(
        converter.backbone_weights(model),
        read_weights(converter.backbone_weights(source)),
        "xlnet_tiny_model",
    )
    previous = ref["mem_input_ids"]
    batch, layers, width = previous.shape[0], source.config.num_layers, 32
    first = model(
        {
            "input_ids": previous,
            "input_mask": np.ones_like(previous),
            "mems": np.zeros((batch, layers, 0, width), np.float32),
        }
    )
    assert first["mems"].shape == (batch, layers, previous.shape[1], width)
    out = model({**{k: ref[k] for k in IDS}, "mems": first["mems"]})
    assert (
        error_at_real_tokens(
            out["sequence_output"], ref["sequence_output_with_mems"], ref["input_mask"]
        )
        <= 1e-4
    )
    assert (
        error_at_real_tokens(out["sequence_output"], ref["sequence_output"], ref["input_mask"])
        > 1e-2
    )  # the memory was used


def test_greedy_generation_matches_reference(permutation_lm):
    """HF generate(do_sample=False, use_mems=False): each step appends a dummy token that
    perm_mask hides, and predicts it with the query stream."""
    ref = reference("xlnet_tiny_lm")
    ids, logits = ref["prompt_ids"], []
    for _ in range(ref["generated_logits"].shape[0]):
        step = permutation_lm(xlnet.next_token_features(ids))["logits"][:, 0].numpy()
        logits.append(step[0])
        ids = np.concatenate([ids, step.argmax(-1)[:, None].astype(np.int32)], axis=1)
    np.testing.assert_array_equal(ids, ref["generated_ids"])
    assert max_abs_diff(np.stack(logits), ref["generated_logits"]) <= 1e-4


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    config, source = assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    for key in (
        "model_type",
        "d_model",
        "n_layer",
        "n_head",
        "d_inner",
        "d_head",
        "ff_activation",
        "layer_norm_eps",
        "dropout",
        "vocab_size",
        "attn_type",
        "bi_data",
        "clamp_len",
    ):
        assert config[key] == source[key], key
    assert "lm_loss.weight" not in load_file(str(tmp_path / "model.safetensors"))
    key = "logits" if "logits" in reference(name) else "sequence_output"
    assert_reloads_with_the_reference_outputs(tmp_path, name, (key,))


def test_permutation_lm_saves_as_lm_head_model(permutation_lm, tmp_path):
    assert_save_pretrained_is_lossless(permutation_lm, "xlnet_tiny_lm", tmp_path)


def test_a_wrong_checkpoint_is_refused(tmp_path):
    target = tmp_path / "bad"
    shutil.copytree(fixture_path("xlnet_tiny_model"), target)
    tensors = load_file(str(target / "model.safetensors"))
    tensors["layer.1.rel_attn.o"] = tensors["layer.1.rel_attn.o"][:, :2]  # two heads
    del tensors["mask_emb"]
    save_file(tensors, str(target / "model.safetensors"))
    with pytest.raises(CheckpointError, match=r"mask_emb.*layer\.1\.rel_attn\.o"):
        tfmodels.from_pretrained(str(target))
