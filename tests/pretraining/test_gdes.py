"""GDES (DeBERTaV3, He et al. 2023, section 4.2): where each loss's gradient goes, and export."""

import contextlib
import dataclasses
import functools

import numpy as np
import pytest
import tensorflow as tf
from safetensors.numpy import load_file

import tfmodels
from tfmodels.errors import ConfigError
from tfmodels.models import deberta
from tfmodels.pretraining import gdes
from tfmodels.pretraining.objectives import masked_lm_loss
from tfmodels.pretraining.replaced_token_detection import replaced_token_loss

DISCRIMINATOR = deberta.Config(
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
GENERATOR = dataclasses.replace(DISCRIMINATOR, intermediate_size=12)  # smaller, same width
FEATURES = ("input_ids", "input_mask", "segment_ids")


@functools.lru_cache(maxsize=None)
def pretrainer():
    return gdes.GdesPretrainer(GENERATOR, DISCRIMINATOR)


@contextlib.contextmanager
def restored(model):
    """Puts the shared model's weights back after a test that changes them."""
    weights = model.get_weights()
    try:
        yield model
    finally:
        model.set_weights(weights)


def batch():
    ids = np.random.default_rng(0).integers(5, 50, (2, 12)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 10:] = 0
    return {
        "input_ids": tf.constant(ids),
        "input_mask": tf.constant(mask),
        "segment_ids": tf.zeros_like(ids),
        "masked_lm_positions": tf.constant([[1, 4, 7], [2, 3, 0]]),
        "masked_lm_ids": tf.constant([[7, 8, 9], [10, 11, 0]]),
        "masked_lm_weights": tf.constant([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]),
    }


def losses(model, data):
    out = model(data, training=False)
    rtd, _ = replaced_token_loss(out["rtd_logits"], out["rtd_labels"], data["input_mask"])
    mlm, _ = masked_lm_loss(out["mlm_logits"], data["masked_lm_ids"], data["masked_lm_weights"])
    return out, mlm, rtd


def norm(gradient):
    return 0.0 if gradient is None else float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(gradient))))


def test_each_loss_trains_its_own_table():
    model = pretrainer()
    with tf.GradientTape(persistent=True) as tape:
        out, mlm, rtd = losses(model, batch())
    assert out["mlm_logits"].shape == (2, 3, 50) and out["rtd_logits"].shape == (2, 12)
    e_g, e_delta = model.generator_embeddings, model.delta_embeddings
    assert tape.gradient(rtd, e_g) is None  # stop_gradient(E_G): RTD never reaches E_G
    assert norm(tape.gradient(rtd, e_delta)) > 0
    assert norm(tape.gradient(mlm, e_g)) > 0
    assert tape.gradient(mlm, e_delta) is None
    # The discriminator's other weights do get the RTD gradient.
    block = model.discriminator_encoder.transformer_layers[0]
    assert norm(tape.gradient(rtd, block.attention.query.kernel)) > 0


def test_discriminator_reads_generator_table_plus_residual():
    model = pretrainer()
    assert np.all(model.delta_embeddings.numpy() == 0)  # E_Delta starts at zero
    table = model.disentangled_embeddings.word_embeddings
    np.testing.assert_array_equal(table, model.generator_embeddings.numpy())
    # One optimizer step on the joint loss moves both tables. (Eager: tracing the two
    # networks in a tf.function takes ~40 s on a busy 2-core machine.)
    variables = model.trainable_variables
    assert any(v is model.generator_embeddings for v in variables)
    assert any(v is model.delta_embeddings for v in variables)
    before_g, before_d = model.generator_embeddings.numpy(), model.delta_embeddings.numpy()
    optimizer = tf.keras.optimizers.SGD(0.1)

    def step(data):
        with tf.GradientTape() as tape:
            loss, metrics = gdes.gdes_pretraining_loss(model, data, training=True)
        grads = tape.gradient(loss, variables)
        optimizer.apply_gradients([(g, v) for g, v in zip(grads, variables) if g is not None])
        return metrics

    with restored(model):
        metrics = step(batch())
        assert {"mlm_loss", "rtd_loss", "replaced_fraction"} <= set(metrics)
        assert np.max(np.abs(model.generator_embeddings.numpy() - before_g)) > 0
        assert np.max(np.abs(model.delta_embeddings.numpy() - before_d)) > 0


def test_exported_discriminator_is_a_plain_deberta_checkpoint(tmp_path):
    with restored(pretrainer()) as model:
        check_export(model, tmp_path)


def check_export(model, tmp_path):
    model.delta_embeddings.assign(tf.random.normal(model.delta_embeddings.shape, seed=4))
    plain = model.discriminator_backbone()
    assert isinstance(plain, deberta.DebertaV2Model)
    expected = model.generator_embeddings.numpy() + model.delta_embeddings.numpy()
    np.testing.assert_allclose(plain.embedding_layer.word_embeddings.numpy(), expected, atol=1e-7)
    features = {k: batch()[k] for k in FEATURES}
    want = model.discriminator(features)["sequence_output"].numpy()
    np.testing.assert_allclose(plain(features)["sequence_output"], want, atol=1e-5)
    tfmodels.save_pretrained(plain, str(tmp_path))
    saved = load_file(str(tmp_path / "model.safetensors"))
    np.testing.assert_allclose(saved["embeddings.word_embeddings.weight"], expected, atol=1e-7)
    reloaded = tfmodels.from_pretrained(str(tmp_path))
    np.testing.assert_allclose(reloaded(features)["sequence_output"], want, atol=1e-5)


def test_generator_and_discriminator_must_share_the_table_shape():
    with pytest.raises(ConfigError, match="hidden_size"):
        gdes.GdesPretrainer(
            dataclasses.replace(GENERATOR, hidden_size=8, num_heads=2), DISCRIMINATOR
        )
