"""SiFT: perturbations of normalized embeddings, the symmetric-KL adversarial loss."""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path
from tfmodels.errors import ConfigError
from tfmodels.tasks import classification
from tfmodels.training.experiment import AdversarialSection
from tfmodels.training.sift import normalize, perturbed, sift_loss, symmetric_kl, with_sift

FEATURES = {
    "input_ids": tf.constant([[2, 5, 6, 7, 3, 0], [2, 9, 3, 0, 0, 0]]),
    "input_mask": tf.constant([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]]),
    "segment_ids": tf.zeros((2, 6), tf.int32),
}


@pytest.fixture(scope="module")
def model():
    return tfmodels.from_pretrained(fixture_path("bert_tiny_classifier"))


def test_symmetric_kl_is_zero_only_for_equal_distributions():
    a = tf.constant([[1.0, 2.0, 0.5], [0.0, 0.0, 0.0]])
    assert float(symmetric_kl(a, a)) == pytest.approx(0.0, abs=1e-7)
    assert float(symmetric_kl(a, a + 3.0)) == pytest.approx(0.0, abs=1e-6)  # same softmax
    b = a * tf.constant([[1.0], [2.0]]) + tf.constant([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    assert float(symmetric_kl(a, b)) > 1e-3
    assert float(symmetric_kl(a, b)) == pytest.approx(float(symmetric_kl(b, a)))


def test_zero_perturbation_changes_nothing_and_noise_does(model):
    clean = model(FEATURES)
    layer = model.encoder.embedding_layer
    # Normalizing before the model's own LayerNorm leaves its output as it was.
    with perturbed(layer, tf.zeros(())):
        same = model(FEATURES)
    np.testing.assert_allclose(same["logits"], clean["logits"], atol=1e-5)
    assert layer.perturbation is None  # restored after the block
    # (training=False: no dropout, whose masks would differ between the passes)
    zero = sift_loss(model, FEATURES, clean, init_perturbation=0.0, step_size=0.0, training=False)
    assert float(zero) == pytest.approx(0.0, abs=1e-8)
    noisy = sift_loss(
        model, FEATURES, clean, init_perturbation=1.0, step_size=0.1, seed=1, training=False
    )
    assert float(noisy) > 1e-6


def test_the_ascent_step_increases_the_divergence(model):
    clean = model(FEATURES)
    random_only = sift_loss(
        model, FEATURES, clean, init_perturbation=0.5, step_size=0.0, seed=3, training=False
    )
    ascended = sift_loss(
        model, FEATURES, clean, init_perturbation=0.5, step_size=0.5, seed=3, training=False
    )
    assert float(ascended) > float(random_only)


def test_normalize_has_zero_mean_and_unit_variance():
    x = tf.random.normal([2, 3, 16]) * 5.0 + 2.0
    y = normalize(x)
    np.testing.assert_allclose(tf.reduce_mean(y, -1), 0.0, atol=1e-5)
    np.testing.assert_allclose(tf.math.reduce_std(y, -1), 1.0, atol=1e-3)


def test_loss_fn_adds_the_weighted_term_only_when_asked(model):
    labels = tf.constant([0, 1])

    def task_loss(outputs, batch):
        return classification.logits_loss(outputs["logits"], batch[1])

    plain = with_sift(task_loss, AdversarialSection())
    loss, metrics = plain(model, (FEATURES, labels), training=True)
    assert "sift_loss" not in metrics
    sift = with_sift(
        task_loss,
        AdversarialSection(method="sift", weight=2.0, init_perturbation=0.5, step_size=0.1),
    )
    total, metrics = sift(model, (FEATURES, labels), training=False)
    assert "sift_loss" not in metrics  # evaluation: no adversarial term
    total, metrics = sift(model, (FEATURES, labels), training=True)
    assert float(metrics["sift_loss"]) > 0
    with tf.GradientTape() as tape:
        total, _ = sift(model, (FEATURES, labels), training=True)
    grads = tape.gradient(total, model.trainable_variables)
    assert all(g is not None for g in grads[:3])
    with pytest.raises(ConfigError, match="adversarial.method: unknown method 'vat'"):
        with_sift(task_loss, AdversarialSection(method="vat"))
