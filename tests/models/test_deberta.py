"""DeBERTa: the common checks (tests/models/harness.py) and what is DeBERTa's own: HF config
spellings and refusals, disentangled attention with log buckets, the enhanced mask decoder."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.models import harness
from tests.models.harness import Role
from tfmodels.errors import ConfigError
from tfmodels.layers import EnhancedMaskDecoder, log_bucket_position
from tfmodels.models import deberta

TINY = deberta.Config(
    vocab_size=50,
    hidden_size=16,
    num_layers=2,
    num_heads=2,
    intermediate_size=24,
    max_position_embeddings=16,
    relative_attention=True,
    position_buckets=4,
    max_relative_positions=16,
    pos_att_type=["p2c", "c2p"],
    share_att_key=True,
    norm_rel_ebd="layer_norm",
    position_biased_input=False,
)


def features(batch=2, length=10, seed=1):
    ids = tf.random.uniform([batch, length], 1, 50, tf.int32, seed=seed)
    mask = tf.concat(
        [tf.ones([batch, length - 2], tf.int32), tf.constant([[1, 1], [0, 0]], tf.int32)], axis=1
    )
    return {"input_ids": ids, "input_mask": mask, "segment_ids": tf.zeros_like(ids)}


SEQUENCE = (2, 10, 16)  # no pooled_output: DeBERTa has no pooler
SPEC = harness.FamilySpec(
    "deberta-v2",
    TINY,
    features(),
    {
        "backbone": Role(
            deberta.DebertaV2Model,
            "DebertaV2Model",
            {
                "sequence_output": SEQUENCE,
                "encoder_outputs": [SEQUENCE] * 2,
                "attention_scores": [(2, 2, 10, 10)] * 2,
            },
            kwargs={"output_attention_scores": True},
        ),
        "pretraining": Role(
            deberta.DebertaV2ForPreTraining,
            "DebertaV2ForPreTraining",
            {"sequence_output": SEQUENCE, "decoder_output": SEQUENCE, "mlm_logits": (2, 10, 50)},
        ),
        "masked_lm": Role(
            deberta.DebertaV2ForMaskedLM,
            "DebertaV2ForMaskedLM",
            {"sequence_output": SEQUENCE, "mlm_logits": (2, 10, 50)},
        ),
        "classification": Role(
            deberta.DebertaV2ForSequenceClassification,
            "DebertaV2ForSequenceClassification",
            {"logits": (2, 2)},
        ),
        "token_classification": Role(
            deberta.DebertaV2ForTokenClassification,
            "DebertaV2ForTokenClassification",
            {"logits": (2, 10, 2)},
        ),
        "question_answering": Role(
            deberta.DebertaV2ForQuestionAnswering,
            "DebertaV2ForQuestionAnswering",
            {"start_logits": (2, 10), "end_logits": (2, 10)},
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_config_reads_hf_spellings_and_rejects_what_it_cannot_build():
    config = deberta.Config.from_hf(
        {
            "hidden_size": 32,
            "num_attention_heads": 4,
            "pos_att_type": "p2c|c2p",
            "relative_attention": True,
        }
    )
    assert config.pos_att_type == ["p2c", "c2p"] and config.num_heads == 4
    assert deberta.Config.from_hf({"pos_att_type": None}).pos_att_type == []
    with pytest.raises(ConfigError, match="conv_kernel_size"):
        deberta.Config(conv_kernel_size=3)
    with pytest.raises(ConfigError, match="pos_att_type 'p2p'"):
        deberta.Config(pos_att_type=["p2p"])
    with pytest.raises(ConfigError, match="embedding_size"):
        deberta.Config(embedding_size=128)


def test_log_buckets_keep_short_distances_and_compress_long_ones():
    relative = tf.range(-40, 41)
    buckets = log_bucket_position(relative, 8, 64).numpy()
    near = np.abs(relative.numpy()) <= 4
    np.testing.assert_array_equal(buckets[near], relative.numpy()[near])
    np.testing.assert_array_equal(buckets, -buckets[::-1])  # odd: delta(j, i) = -delta(i, j)
    assert np.all(np.diff(buckets) >= 0) and np.abs(buckets).max() <= 7
    assert len(np.unique(buckets[relative.numpy() > 4])) < np.sum(relative.numpy() > 4)


def test_position_terms_take_part_in_the_attention():
    config = dataclasses.replace(TINY, initializer_range=0.5)  # scores well away from 0
    f = features()
    model = deberta.DebertaV2Model(config)
    content_only = deberta.DebertaV2Model(dataclasses.replace(config, pos_att_type=[]))
    content_only.set_weights(model.get_weights())  # same variables: shared key projections
    mask = f["input_mask"].numpy().astype(bool)
    a, b = model(f)["sequence_output"].numpy(), content_only(f)["sequence_output"].numpy()
    assert np.max(np.abs(a[mask] - b[mask])) > 1e-2
    # Without absolute positions, content-only attention is permutation-equivariant;
    # the relative terms make the order matter.
    full = {k: v[:1, :8] for k, v in f.items()}
    reverse = {k: v[:, ::-1] for k, v in full.items()}
    flat = content_only(full)["sequence_output"].numpy()[0]
    np.testing.assert_allclose(
        content_only(reverse)["sequence_output"].numpy()[0, ::-1], flat, atol=1e-5
    )
    ordered = model(full)["sequence_output"].numpy()[0]
    assert np.max(np.abs(model(reverse)["sequence_output"].numpy()[0, ::-1] - ordered)) > 1e-2


def test_padding_does_not_change_real_tokens(models):
    model = models["backbone"]
    f = features()
    short = {k: v[1:, :8] for k, v in f.items()}
    full = model(f)["sequence_output"].numpy()[1, :8]
    np.testing.assert_allclose(model(short)["sequence_output"].numpy()[0], full, atol=1e-5)


def test_masked_lm_head_is_tied_to_the_word_table(models):
    """The classifier and both HF head layouts are checked against HF in
    tests/convert/test_deberta_parity.py."""
    mlm = models["masked_lm"]
    assert mlm.mlm_head.embedding_layer is mlm.encoder.embedding_layer  # tied table


# The enhanced mask decoder (section 3.2).


def test_decoder_reuses_the_last_layer_and_adds_only_a_position_table(models):
    pretrainer = models["pretraining"]
    decoder = pretrainer.encoder.decoder_layer
    assert decoder.block is pretrainer.encoder.transformer_layers[-1]
    masked_lm = models["masked_lm"]
    extra = pretrainer.count_params() - masked_lm.count_params()
    assert extra == TINY.max_position_embeddings * TINY.hidden_size


def test_decoder_output_differs_from_the_plain_masked_lm(models):
    f = features()
    pretrainer = models["pretraining"]
    plain = models["masked_lm"]
    for variable in plain.variables:  # same weights, no decoder
        match = [v for v in pretrainer.variables if v.name == variable.name]
        variable.assign(match[0])
    out, reference = pretrainer(f), plain(f)
    np.testing.assert_allclose(out["sequence_output"], reference["sequence_output"], atol=1e-6)
    mask = f["input_mask"].numpy().astype(bool)
    assert (
        np.max(np.abs(out["decoder_output"].numpy()[mask] - out["sequence_output"].numpy()[mask]))
        > 1e-2
    )
    assert (
        np.max(np.abs(out["mlm_logits"].numpy()[mask] - reference["mlm_logits"].numpy()[mask]))
        > 1e-3
    )


def test_decoder_uses_absolute_positions_and_trains_the_shared_layer(models):
    pretrainer = models["pretraining"]
    decoder, f = pretrainer.encoder.decoder_layer, features()
    before = pretrainer(f)
    table = decoder.position_embeddings
    original = table.numpy()
    bump = tf.random.normal([1, TINY.hidden_size], seed=3)  # not constant: LayerNorm drops that
    table.assign(tf.tensor_scatter_nd_add(table, [[3]], bump))
    after = pretrainer(f)
    table.assign(original)
    np.testing.assert_array_equal(after["sequence_output"], before["sequence_output"])
    changed = np.max(np.abs(after["decoder_output"] - before["decoder_output"]), axis=-1)
    assert changed[0, 3] > 1e-3
    # Gradients of the MLM logits reach the shared block through the decoder and the table.
    hidden = tf.random.normal([2, 10, TINY.hidden_size], seed=2)
    block = decoder.block
    with tf.GradientTape() as tape:
        out = decoder(
            hidden,
            attention_mask=f["input_mask"],
            relative_embeddings=pretrainer.encoder.relative_embeddings(hidden),
        )
        loss = tf.reduce_sum(out**2)
    grads = tape.gradient(loss, [block.attention.query.kernel, block.intermediate.kernel, table])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_decoder_is_skipped_where_the_input_has_absolute_positions():
    """As in the original code: EMD decodes only without position_biased_input."""
    config = dataclasses.replace(TINY, position_biased_input=True)
    pretrainer = deberta.DebertaV2ForPreTraining(config)
    assert pretrainer.encoder.decoder_layer is None
    out = pretrainer(features())
    np.testing.assert_array_equal(out["decoder_output"], out["sequence_output"])
    with pytest.raises(ConfigError, match="num_layers >= 2"):
        deberta.DebertaV2ForPreTraining(dataclasses.replace(TINY, num_layers=1))


def test_decoder_layer_config_round_trips(models):
    block = models["backbone"].transformer_layers[-1]
    decoder = EnhancedMaskDecoder(block, max_positions=16, name="emd")
    clone = EnhancedMaskDecoder.from_config(decoder.get_config())
    assert clone.num_steps == 2 and clone.block.span == 4 and clone.block is not block


def test_pretrainer_saves_in_the_original_layout_and_loads_back(models, tmp_path):
    pretrainer = models["pretraining"]
    f = features()
    tfmodels.save_pretrained(pretrainer, str(tmp_path))
    from safetensors.numpy import load_file

    names = set(load_file(str(tmp_path / "model.safetensors")))
    assert {"deberta.embeddings.position_embeddings.weight", "lm_predictions.lm_head.bias"} <= names
    loaded = tfmodels.from_pretrained(str(tmp_path))
    assert isinstance(loaded, deberta.DebertaV2ForPreTraining)
    np.testing.assert_allclose(loaded(f)["mlm_logits"], pretrainer(f)["mlm_logits"], atol=1e-5)
