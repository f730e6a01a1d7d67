"""DeBERTa: named configurations, disentangled attention, the enhanced mask decoder."""
import dataclasses
import functools

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tfmodels.errors import ConfigError
from tfmodels.layers import EnhancedMaskDecoder, log_bucket_position
from tfmodels.models import deberta

TINY = deberta.Config(vocab_size=50, hidden_size=16, num_layers=2, num_heads=2,
                      intermediate_size=24, max_position_embeddings=16, relative_attention=True,
                      position_buckets=4, max_relative_positions=16,
                      pos_att_type=["p2c", "c2p"], share_att_key=True,
                      norm_rel_ebd="layer_norm", position_biased_input=False)


@functools.lru_cache(maxsize=None)
def built(cls, **kwargs):
    """One model per class for the module: building takes seconds on a busy CPU."""
    return cls(TINY, **kwargs)


def features(batch=2, length=10, seed=1):
    ids = tf.random.uniform([batch, length], 1, 50, tf.int32, seed=seed)
    mask = tf.concat([tf.ones([batch, length - 2], tf.int32),
                      tf.constant([[1, 1], [0, 0]], tf.int32)], axis=1)
    return {"input_ids": ids, "input_mask": mask, "segment_ids": tf.zeros_like(ids)}


def test_config_reads_hf_spellings_and_rejects_what_it_cannot_build():
    config = deberta.Config.from_hf({"hidden_size": 32, "num_attention_heads": 4,
                                     "pos_att_type": "p2c|c2p", "relative_attention": True})
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
    model = deberta.DebertaEncoder(config)
    content_only = deberta.DebertaEncoder(dataclasses.replace(config, pos_att_type=[]))
    content_only.set_weights(model.get_weights())  # same variables: shared key projections
    mask = f["input_mask"].numpy().astype(bool)
    a, b = model(f)["sequence_output"].numpy(), content_only(f)["sequence_output"].numpy()
    assert np.max(np.abs(a[mask] - b[mask])) > 1e-2
    # Without absolute positions, content-only attention is permutation-equivariant;
    # the relative terms make the order matter.
    full = {k: v[:1, :8] for k, v in f.items()}
    reverse = {k: v[:, ::-1] for k, v in full.items()}
    flat = content_only(full)["sequence_output"].numpy()[0]
    np.testing.assert_allclose(content_only(reverse)["sequence_output"].numpy()[0, ::-1], flat,
                               atol=1e-5)
    ordered = model(full)["sequence_output"].numpy()[0]
    assert np.max(np.abs(model(reverse)["sequence_output"].numpy()[0, ::-1] - ordered)) > 1e-2


def test_padding_does_not_change_real_tokens():
    model = built(deberta.DebertaEncoder, output_attention_scores=True)
    f = features()
    short = {k: v[1:, :8] for k, v in f.items()}
    full = model(f)["sequence_output"].numpy()[1, :8]
    np.testing.assert_allclose(model(short)["sequence_output"].numpy()[0], full, atol=1e-5)


def test_encoder_config_round_trips():
    model = built(deberta.DebertaEncoder, output_attention_scores=True)
    clone = deberta.DebertaEncoder.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    f = features()
    out = model(f)
    assert len(out["attention_scores"]) == 2 and out["attention_scores"][0].shape == (2, 2, 10, 10)
    np.testing.assert_allclose(clone(f)["sequence_output"], out["sequence_output"], atol=1e-6)
    assert deberta.Config.from_dict(TINY.to_dict()) == TINY


def test_masked_lm_head_is_tied_to_the_word_table():
    """The classifier and both HF head layouts are checked against HF in
    tests/convert/test_deberta_parity.py."""
    f = features()
    mlm = built(deberta.DebertaMaskedLM)
    assert mlm(f)["mlm_logits"].shape == (2, 10, 50)
    assert mlm.mlm_head.embedding_layer is mlm.encoder.embedding_layer  # tied table


# The enhanced mask decoder (section 3.2).

def test_decoder_reuses_the_last_layer_and_adds_only_a_position_table():
    pretrainer = built(deberta.DebertaPretrainer)
    decoder = pretrainer.encoder.decoder_layer
    assert decoder.block is pretrainer.encoder.transformer_layers[-1]
    masked_lm = built(deberta.DebertaMaskedLM)
    extra = pretrainer.count_params() - masked_lm.count_params()
    assert extra == TINY.max_position_embeddings * TINY.hidden_size


def test_decoder_output_differs_from_the_plain_masked_lm():
    f = features()
    pretrainer = built(deberta.DebertaPretrainer)
    plain = built(deberta.DebertaMaskedLM)
    for variable in plain.variables:  # same weights, no decoder
        match = [v for v in pretrainer.variables if v.name == variable.name]
        variable.assign(match[0])
    out, reference = pretrainer(f), plain(f)
    np.testing.assert_allclose(out["sequence_output"], reference["sequence_output"], atol=1e-6)
    mask = f["input_mask"].numpy().astype(bool)
    assert np.max(np.abs(out["decoder_output"].numpy()[mask] -
                         out["sequence_output"].numpy()[mask])) > 1e-2
    assert np.max(np.abs(out["mlm_logits"].numpy()[mask] -
                         reference["mlm_logits"].numpy()[mask])) > 1e-3


def test_decoder_uses_absolute_positions_and_trains_the_shared_layer():
    pretrainer = built(deberta.DebertaPretrainer)
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
        out = decoder(hidden, attention_mask=f["input_mask"],
                      relative_embeddings=pretrainer.encoder.relative_embeddings(hidden))
        loss = tf.reduce_sum(out ** 2)
    grads = tape.gradient(loss, [block.attention.query.kernel, block.intermediate.kernel,
                                 table])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


def test_decoder_is_skipped_where_the_input_has_absolute_positions():
    """As in the original code: EMD decodes only without position_biased_input."""
    config = dataclasses.replace(TINY, position_biased_input=True)
    pretrainer = deberta.DebertaPretrainer(config)
    assert pretrainer.encoder.decoder_layer is None
    out = pretrainer(features())
    np.testing.assert_array_equal(out["decoder_output"], out["sequence_output"])
    with pytest.raises(ConfigError, match="num_layers >= 2"):
        deberta.DebertaPretrainer(dataclasses.replace(TINY, num_layers=1))


def test_decoder_layer_config_round_trips():
    block = built(deberta.DebertaEncoder, output_attention_scores=True).transformer_layers[-1]
    decoder = EnhancedMaskDecoder(block, max_positions=16, name="emd")
    clone = EnhancedMaskDecoder.from_config(decoder.get_config())
    assert clone.num_steps == 2 and clone.block.span == 4 and clone.block is not block


def test_pretrainer_saves_in_the_original_layout_and_loads_back(tmp_path):
    pretrainer = built(deberta.DebertaPretrainer)
    f = features()
    tfmodels.save_pretrained(pretrainer, str(tmp_path))
    from safetensors.numpy import load_file
    names = set(load_file(str(tmp_path / "model.safetensors")))
    assert {"deberta.embeddings.position_embeddings.weight",
            "lm_predictions.lm_head.bias"} <= names
    loaded = tfmodels.from_pretrained(str(tmp_path))
    assert isinstance(loaded, deberta.DebertaPretrainer)
    np.testing.assert_allclose(loaded(f)["mlm_logits"], pretrainer(f)["mlm_logits"], atol=1e-5)
