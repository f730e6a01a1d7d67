"""ELECTRA's replaced token detection: labels, shared embeddings, no gradient through
sampling, the lambda=50 sum, and a few joint optimisation steps that lower the loss."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.models import electra
from tfmodels.pretraining import replaced_token_detection as rtd
from tfmodels.pretraining.masking import dynamic_masking

VOCAB, LENGTH, MASK_ID = 40, 16, 4
# A generator narrower than the discriminator, both on 16-wide shared embeddings.
GENERATOR = electra.Config(
    vocab_size=VOCAB,
    embedding_size=16,
    hidden_size=8,
    num_layers=1,
    num_heads=2,
    intermediate_size=16,
    max_position_embeddings=LENGTH,
)
DISCRIMINATOR = electra.Config(
    vocab_size=VOCAB,
    embedding_size=16,
    hidden_size=32,
    num_layers=1,
    num_heads=4,
    intermediate_size=48,
    max_position_embeddings=LENGTH,
)


@pytest.fixture(scope="module")
def model():
    return rtd.ElectraPretrainer(GENERATOR, DISCRIMINATOR)


def masked_batch(seed=0, batch=4):
    """[CLS] w.. [SEP], one padded row, two segments; 15% masked by BERT's dynamic masking."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(5, VOCAB, size=(batch, LENGTH)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 10:] = 0
    ids[:, 0] = 2
    ids[:, -1] = 3
    ids[1, 9], ids[1, 10:] = 3, 0
    segments = np.zeros_like(ids)
    segments[:, LENGTH // 2 :] = 1
    segments[mask == 0] = 0
    tf.random.set_seed(seed)
    out = dynamic_masking(
        tf.constant(ids),
        tf.constant(mask),
        vocab_size=VOCAB,
        mask_id=MASK_ID,
        special_ids=[0, 2, 3],
        seed=[seed, 0],
        max_predictions=6,
    )
    out["segment_ids"] = tf.constant(segments)
    return out, ids


def chosen_positions(batch):
    """[B, S] True at the positions that were chosen for masking."""
    positions = batch["masked_lm_positions"].numpy()
    chosen = batch["masked_lm_weights"].numpy() > 0
    touched = np.zeros(batch["input_ids"].shape, bool)
    for row in range(len(touched)):
        touched[row, positions[row][chosen[row]]] = True
    return touched


def test_labels_are_exactly_where_the_sample_differs(model):
    batch, original = masked_batch()
    out = model(batch)
    positions = batch["masked_lm_positions"].numpy()
    chosen = batch["masked_lm_weights"].numpy() > 0
    corrupted, labels = out["corrupted_ids"].numpy(), out["rtd_labels"].numpy()
    np.testing.assert_array_equal(out["original_ids"], original)
    np.testing.assert_array_equal(
        np.take_along_axis(corrupted, positions, 1)[chosen], out["sampled_ids"].numpy()[chosen]
    )
    touched = chosen_positions(batch)
    np.testing.assert_array_equal(corrupted[~touched], original[~touched])
    np.testing.assert_array_equal(labels, (corrupted != original).astype(np.int32))
    assert labels[batch["input_mask"].numpy() == 0].sum() == 0
    assert 0 < touched.sum() and labels.sum() <= touched.sum()


def test_a_correct_sample_counts_as_original(model):
    """A generator that always samples token 7: positions whose original is 7 stay label 0."""
    batch, original = masked_batch(seed=1)
    positions = batch["masked_lm_positions"].numpy()
    touched = chosen_positions(batch)
    original[touched & (np.arange(LENGTH) % 2 == 0)] = 7  # some masked originals are the sample
    batch = dict(batch, masked_lm_ids=tf.constant(np.take_along_axis(original, positions, 1)))
    bias = model.generator.mlm_head.bias
    saved = bias.numpy()
    try:
        bias.assign(np.where(np.arange(VOCAB) == 7, 1e4, -1e4).astype(np.float32))
        out = model(batch)
    finally:
        bias.assign(saved)
    assert np.all(out["corrupted_ids"].numpy()[touched] == 7)
    np.testing.assert_array_equal(out["original_ids"], original)
    expected = (original[touched] != 7).astype(np.int32)
    np.testing.assert_array_equal(out["rtd_labels"].numpy()[touched], expected)
    assert 0 < expected.sum() < len(expected)  # both cases occur


def test_embeddings_are_one_variable_shared_by_both_models(model):
    gen = model.generator.encoder.embedding_layer
    disc = model.discriminator.encoder.embedding_layer
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings"):
        assert getattr(gen, name) is getattr(disc, name), name
    assert gen.layer_norm.gamma is disc.layer_norm.gamma
    assert model.generator.mlm_head.embedding_layer.word_embeddings is disc.word_embeddings
    # Each model keeps its own E -> H projection (H differs).
    assert gen.projection.kernel.shape == (16, 8) and disc.projection.kernel.shape == (16, 32)
    shared = sum(int(np.prod(v.shape)) for v in disc.weights if "projection" not in v.name)
    assert model.count_params() == (
        model.generator.count_params() + model.discriminator.count_params() - shared
    )
    ids = {v.ref() for v in model.trainable_variables}
    assert len(ids) == len(model.trainable_variables)


def test_loss_is_mlm_plus_50_rtd_and_sampling_passes_no_gradient(model):
    batch, _ = masked_batch(seed=2)
    tf.random.set_seed(5)
    with tf.GradientTape(persistent=True) as tape:
        out = model(batch)
        rtd_loss, _ = rtd.replaced_token_loss(
            out["rtd_logits"], out["rtd_labels"], batch["input_mask"]
        )
    generator_only = [
        v
        for v in model.generator.trainable_variables
        if all(v is not w for w in model.discriminator.trainable_variables)
    ]
    grads = tape.gradient(rtd_loss, generator_only)
    assert generator_only and all(g is None for g in grads)
    shared = model.discriminator.encoder.embedding_layer.word_embeddings
    assert tape.gradient(rtd_loss, shared) is not None
    tf.random.set_seed(5)
    loss, metrics = rtd.electra_pretraining_loss(model, batch, training=False)
    assert rtd.RTD_WEIGHT == 50.0
    np.testing.assert_allclose(loss, metrics["mlm_loss"] + 50.0 * metrics["rtd_loss"], rtol=1e-6)
    np.testing.assert_allclose(metrics["rtd_loss"], rtd_loss, rtol=1e-6)
    assert float(metrics["tokens"]) == float(tf.reduce_sum(batch["input_mask"]))


def test_joint_training_lowers_the_loss(model):
    batch, _ = masked_batch(seed=3)
    optimizer = keras.optimizers.Adam(1e-2)

    def evaluate():
        tf.random.set_seed(11)
        return float(rtd.electra_pretraining_loss(model, batch, training=False)[0])

    before = evaluate()
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss, _ = rtd.electra_pretraining_loss(model, batch, training=True)
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    after = evaluate()
    assert after < before - 2.0, (before, after)  # about 38 -> 33


def test_generator_and_discriminator_must_fit_the_shared_embeddings():
    with pytest.raises(ConfigError, match="embedding_size.*share"):
        rtd.ElectraPretrainer(GENERATOR, dict(DISCRIMINATOR.to_dict(), embedding_size=8))


def test_config_round_trip_and_checkpoint(model, tmp_path):
    clone = rtd.ElectraPretrainer.from_config(model.get_config())
    assert clone.get_config() == model.get_config()
    assert (
        clone.generator.encoder.embedding_layer.word_embeddings
        is clone.discriminator.encoder.embedding_layer.word_embeddings
    )
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(model=clone).read(path).assert_consumed()
    batch, _ = masked_batch()
    features = {k: batch[k] for k in ("input_ids", "input_mask", "segment_ids")}
    np.testing.assert_allclose(
        clone.discriminator(features)["rtd_logits"],
        model.discriminator(features)["rtd_logits"],
        atol=1e-6,
    )
