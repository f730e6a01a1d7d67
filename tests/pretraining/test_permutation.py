"""Permutation LM data: the factorization order as masks, partial prediction, and a loss
that trains."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.models import xlnet
from tfmodels.pretraining.permutation import (
    num_predictions,
    permutation_batch,
    permutation_example,
    permutation_lm_loss,
)


@pytest.mark.parametrize("length,real", [(24, 24), (60, 60), (30, 20)])
def test_masks_follow_the_factorization_order(length, real):
    rng = np.random.default_rng(length)
    ids = rng.integers(5, 99, size=length)
    mask = (np.arange(length) < real).astype(np.int32)
    ex = permutation_example(ids, rng, input_mask=mask)
    perm_mask, mapping, order = ex["perm_mask"], ex["target_mapping"], ex["order"]
    targets = np.flatnonzero(order >= 0)
    # About S / K targets, all real tokens, one-hot rows in target_mapping, their labels.
    assert len(targets) == max(1, round(real / 6))
    assert mask[targets].all()
    assert mapping.shape == (num_predictions(length), length)
    real_rows = mapping[ex["target_weights"] == 1]
    np.testing.assert_array_equal(real_rows.sum(1), 1)
    assert not mapping[ex["target_weights"] == 0].any()
    predicted = real_rows.argmax(1)
    np.testing.assert_array_equal(np.sort(predicted), targets)
    np.testing.assert_array_equal(ex["target_ids"][: len(targets)], ids[predicted])
    # The masks of both streams, as XLNetModel builds them from perm_mask.
    masks = xlnet.AttentionInputs(16)(mask[None], np.zeros((1, length), np.int32), perm_mask[None])
    query = masks["query_allowed"].numpy()[0]
    content = masks["content_allowed"].numpy()[0]
    context = np.flatnonzero((order < 0) & (mask == 1))
    for t in targets:
        assert not query[t, t] and content[t, t]  # the query stream never sees itself
        earlier = set(context) | {j for j in targets if order[j] < order[t]}
        assert set(np.flatnonzero(query[t])) == earlier  # exactly the earlier tokens
    for c in context:  # context sees the context, itself included, and no target
        assert set(np.flatnonzero(query[c])) == set(context)


def test_the_order_is_random():
    ids = np.arange(5, 41)
    orders = {tuple(permutation_example(ids, np.random.default_rng(s))["order"]) for s in range(5)}
    assert len(orders) == 5


def test_loss_goes_down_in_ten_steps():
    tf.random.set_seed(0)
    rng = np.random.default_rng(0)
    model = xlnet.XLNetPermutationLM(
        xlnet.Config(
            vocab_size=30,
            hidden_size=16,
            num_layers=1,
            num_heads=2,
            intermediate_size=32,
            hidden_dropout=0.0,
        )
    )
    ids = rng.integers(3, 30, size=(4, 12)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 9:] = 0
    batch = permutation_batch(
        {"input_ids": ids, "input_mask": mask, "segment_ids": np.zeros_like(ids)}, rng
    )
    assert batch["target_mapping"].shape == (4, 2, 12)
    optimizer = keras.optimizers.Adam(1e-2)

    losses = []
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss, metrics = permutation_lm_loss(model, batch, training=True)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    assert set(metrics) == {"plm_loss", "plm_accuracy", "tokens"}
    assert float(metrics["tokens"]) == mask.sum()
    assert np.isfinite(losses).all()
    assert losses[-1] < 0.8 * losses[0] and losses[-1] == min(losses), losses
