"""HF T5 checkpoints (T5Model, T5ForConditionalGeneration tied and untied) load and match
the reference outputs at real tokens; saving is lossless; 20 greedy steps give HF's ids."""

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tests.conftest import fixture_path, max_abs_diff
from tests.convert.parity import assert_save_pretrained_is_lossless, loaded, reference
from tfmodels.generation import generate
from tfmodels.models import t5

FIXTURES = {
    "t5_tiny_model": t5.T5Model,
    "t5_tiny_lm": t5.T5ForConditionalGeneration,
    "t5_tiny_lm_untied": t5.T5ForConditionalGeneration,
}
FEATURES = ("input_ids", "input_mask", "decoder_input_ids", "decoder_input_mask")


def errors(model, ref):
    """Max abs error of each reference output: encoder positions where ``input_mask`` is 1,
    decoder positions where ``decoder_input_mask`` is 1."""
    out = model({k: ref[k] for k in FEATURES})
    found = {}
    for key in ("encoder_output", "sequence_output", "logits"):
        if key in ref:
            mask = ref["input_mask" if key == "encoder_output" else "decoder_input_mask"]
            assert out[key].shape == ref[key].shape, key
            found[key] = max_abs_diff(
                np.asarray(out[key])[mask.astype(bool)], ref[key][mask.astype(bool)]
            )
    return found


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_outputs_match_reference_at_real_tokens(name):
    ref = reference(name)
    assert not ref["input_mask"].all() and not ref["decoder_input_mask"].all()  # padded rows
    model = loaded(name)
    assert type(model) is FIXTURES[name]  # chosen by config.json "architectures"
    assert model.count_params() == ref["num_parameters"]  # HF num_parameters()
    found = errors(model, ref)
    expected = {"encoder_output", "sequence_output"} | ({"logits"} if "logits" in ref else set())
    assert set(found) == expected
    assert max(found.values()) <= 1e-4, found


def test_untied_checkpoint_has_its_own_head_and_no_rescale():
    model = loaded("t5_tiny_lm_untied")
    assert not model.config.tie_word_embeddings
    head = load_file(fixture_path("t5_tiny_lm_untied", "model.safetensors"))["lm_head.weight"]
    np.testing.assert_array_equal(model.lm_head.kernel.numpy().T, head)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    config, source = assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    for key in (
        "model_type",
        "d_model",
        "d_kv",
        "d_ff",
        "num_layers",
        "num_decoder_layers",
        "num_heads",
        "relative_attention_num_buckets",
        "relative_attention_max_distance",
        "layer_norm_epsilon",
        "feed_forward_proj",
        "tie_word_embeddings",
        "decoder_start_token_id",
    ):
        assert config[key] == source[key], key
    saved = load_file(str(tmp_path / "model.safetensors"))
    assert not [k for k in saved if "embed_tokens" in k]  # tied copies of shared.weight
    if name == "t5_tiny_lm_untied":
        # The config decides the head: reload and compare. Checkpoints that store the
        # tied copies {encoder,decoder}.embed_tokens (older writers) load too.
        for side in ("encoder", "decoder"):
            saved[f"{side}.embed_tokens.weight"] = saved["shared.weight"]
        save_file(saved, str(tmp_path / "model.safetensors"))
        found = errors(tfmodels.from_pretrained(str(tmp_path)), reference(name))
        assert max(found.values()) <= 1e-4, found


def test_greedy_generation_matches_hf():
    ref = reference("t5_tiny_generation")
    assert len(set(ref["input_mask"].sum(axis=1))) == 3  # encoder inputs of different lengths
    model = loaded("t5_tiny_generation")
    ids = generate(
        model, {"input_ids": ref["input_ids"], "input_mask": ref["input_mask"]}, max_new_tokens=20
    )
    assert len(set(ref["greedy_ids"][0])) > 5  # not one token repeated
    np.testing.assert_array_equal(ids.numpy(), ref["greedy_ids"])


def test_preprocessor_matches_hf_t5_tokenizer():
    """Cased pieces + </s> (1), right-padded with 0, as transformers.T5Tokenizer; a cut
    text keeps its </s>; a pair is ``a </s> b </s>``."""
    import json

    import tensorflow as tf

    from tfmodels.tokenizers.sentencepiece import T5Preprocessor

    with open(fixture_path("t5_spiece", "reference.json")) as f:
        ref = json.load(f)
    pre = tfmodels.preprocessor_from_pretrained(fixture_path("t5_spiece"), 48)
    assert type(pre) is T5Preprocessor
    texts = tf.constant(ref["sentences"])
    features = {k: v.numpy() for k, v in pre(texts).items()}
    assert features["input_ids"].shape == (len(ref["ids"]), 48)
    for row, expected in enumerate(ref["ids"]):
        n = len(expected)
        assert features["input_ids"][row, :n].tolist() == expected
        assert not features["input_ids"][row, n:].any() and features["input_mask"][row].sum() == n
    assert not features["segment_ids"].any()
    short = T5Preprocessor.from_config(pre.get_config() | {"seq_length": 8})(texts)["input_ids"]
    assert short.numpy().tolist() == [ids[:7] + [1] for ids in ref["ids"]]
    pair = pre((texts[:1], texts[3:]))["input_ids"].numpy()[0]
    assert pair[: len(ref["ids"][0]) + len(ref["ids"][3])].tolist() == ref["ids"][0] + ref["ids"][3]
