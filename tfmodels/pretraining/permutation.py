"""Permutation language modeling, XLNet's pre-training objective (Yang et al. 2019, 2.2-2.3).

For each sequence a random factorization order z is drawn, and token z_t is predicted
from x_{z<t} only: the network keeps the sequence in place and expresses the order as an
attention mask (``perm_mask[i, j] = 1``: position i may NOT see position j, HF's
convention). Partial prediction (section 2.3, eq. 5): only the last 1/K of the order
are targets (K = 6 in the paper); the rest is context that sees itself and nothing of
the targets, so its order does not matter (as the original ``_local_perm``). Targets
are read by the query stream at ``target_mapping`` (one-hot [P, S]); the query stream of
a target never sees its own token, its content stream does (:class:`XLNetModel`).

:func:`permutation_example` makes one sequence's masks, :func:`permutation_batch` a
batch of them, and :func:`permutation_lm_loss` is the Trainer ``loss_fn`` for
:class:`tfmodels.models.xlnet.XLNetPermutationLM` (task ``pretraining``).
:func:`permutation_examples` writes the ``permutation_lm`` objective's records: the
text cut into blocks as for the causal LM, each with one drawn order per
``dupe_factor`` pass (XLNet samples a new order every time it sees a sequence).
"""

import math

import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.pretraining.causal_lm import blocks, token_stream
from tfmodels.pretraining.objectives import input_tokens, masked_lm_loss
from tfmodels.pretraining.records import _float_feature, _int_feature, _pad

PARTIAL_PREDICTION = 6  # K of section 2.3
FEATURES = ("input_ids", "input_mask", "segment_ids", "perm_mask", "target_mapping")


def num_predictions(length, partial_prediction=PARTIAL_PREDICTION):
    """Rows of ``target_mapping`` for sequences of ``length``: ceil(S / K), at least 1."""
    if partial_prediction < 1:
        raise ConfigError(f"partial_prediction must be >= 1, got {partial_prediction}")
    return max(1, math.ceil(length / partial_prediction))


def permutation_example(
    input_ids, rng, input_mask=None, partial_prediction=PARTIAL_PREDICTION, candidates=None
):
    """One sequence's permutation-LM features (numpy).

    ``input_ids`` [S]; ``input_mask`` [S] (1: real token; default all); ``candidates`` [S]
    (1: may be a target, e.g. not [CLS]/[SEP]; default the real tokens). The n candidates'
    last ``round(n / K)`` (at least 1) in a random order are the targets.

    Returns ``perm_mask`` float32 [S, S], ``target_mapping`` float32 [P, S] (P from
    :func:`num_predictions`; unused rows all zero), ``target_ids`` int32 [P] (the tokens
    to predict), ``target_weights`` float32 [P] (1 for a real target) and ``order`` int32
    [S] (each position's rank in the factorization order; -1 for context and padding).
    """
    input_ids = np.asarray(input_ids)
    length = input_ids.shape[0]
    real = np.ones(length, bool) if input_mask is None else np.asarray(input_mask).astype(bool)
    allowed = real if candidates is None else real & np.asarray(candidates).astype(bool)
    positions = rng.permutation(np.flatnonzero(allowed))
    count = min(len(positions), max(1, round(len(positions) / partial_prediction)))
    targets = positions[len(positions) - count :]
    order = np.full(length, -1, np.int32)
    order[targets] = np.arange(count)
    # Query i may see key j iff j comes strictly earlier in the order; context ranks as -1
    # and sees all the context, itself included (the original XLNet's ``_local_perm``).
    threshold = np.where(order >= 0, order, 0)
    perm_mask = threshold[:, None] <= order[None, :]
    predictions = num_predictions(length, partial_prediction)
    target_mapping = np.zeros((predictions, length), np.float32)
    target_mapping[np.arange(count), targets] = 1.0
    target_ids = np.zeros(predictions, np.int32)
    target_ids[:count] = input_ids[targets]
    weights = np.zeros(predictions, np.float32)
    weights[:count] = 1.0
    return {
        "perm_mask": perm_mask.astype(np.float32),
        "target_mapping": target_mapping,
        "target_ids": target_ids,
        "target_weights": weights,
        "order": order,
    }


def permutation_batch(features, rng, partial_prediction=PARTIAL_PREDICTION):
    """``features`` (numpy ``input_ids``, ``input_mask``, ``segment_ids`` [B, S]) with the
    permutation-LM features of every row added (stacked :func:`permutation_example`)."""
    rows = [
        permutation_example(ids, rng, mask, partial_prediction)
        for ids, mask in zip(features["input_ids"], features["input_mask"])
    ]
    batch = dict(features)
    for key in ("perm_mask", "target_mapping", "target_ids", "target_weights"):
        batch[key] = np.stack([row[key] for row in rows])
    return batch


def permutation_lm_loss(model, batch, training):
    """Mean cross-entropy of the query stream's logits [B, P, V] at the real targets
    (eq. 5), and the accuracy there: ``(loss, {"plm_loss", "plm_accuracy", "tokens"})``."""
    out = model({k: batch[k] for k in FEATURES}, training=training)
    loss, accuracy = masked_lm_loss(out["logits"], batch["target_ids"], batch["target_weights"])
    return loss, {"plm_loss": loss, "plm_accuracy": accuracy, **input_tokens(batch)}


def permutation_examples(documents, vocab, options, rng):
    """The ``permutation_lm`` records (tfmodels.pretraining.registry): ``input_ids``,
    ``input_mask``, ``segment_ids`` [S], ``perm_mask`` [S * S], ``target_mapping``
    [P * S], ``target_ids`` and ``target_weights`` [P], P = ceil(S / 6)."""
    length = options.seq_length
    pad = vocab.ids[vocab.pad_token]
    pieces = blocks([vocab.ids[t] for t in token_stream(documents, vocab.sep_token)], length)
    for _ in range(options.dupe_factor):
        for i in rng.permutation(len(pieces)):
            ids = _pad(pieces[i], length, pad)
            mask = _pad([1] * len(pieces[i]), length)
            example = permutation_example(np.asarray(ids), rng, np.asarray(mask))
            features = {
                "input_ids": _int_feature(ids),
                "input_mask": _int_feature(mask),
                "segment_ids": _int_feature([0] * length),
                "perm_mask": _float_feature(example["perm_mask"].ravel()),
                "target_mapping": _float_feature(example["target_mapping"].ravel()),
                "target_ids": _int_feature(example["target_ids"]),
                "target_weights": _float_feature(example["target_weights"]),
            }
            yield tf.train.Example(features=tf.train.Features(feature=features))


def permutation_features(seq_length, max_predictions=20):
    """The registry's ``extra_features`` hook: the masks and targets, reshaped by the
    parser to [S, S] and [P, S]."""
    del max_predictions
    predictions = num_predictions(seq_length)
    return {
        "perm_mask": tf.io.FixedLenFeature([seq_length, seq_length], tf.float32),
        "target_mapping": tf.io.FixedLenFeature([predictions, seq_length], tf.float32),
        "target_ids": tf.io.FixedLenFeature([predictions], tf.int64),
        "target_weights": tf.io.FixedLenFeature([predictions], tf.float32),
    }
