"""Teacher-forced sequence-to-sequence pre-training: the record layout and its loss.

T5's span corruption (Raffel et al. 2020, 3.1.4) and BART's denoising (Lewis et al.
2020, 2.2) both train an encoder-decoder to emit a target given a corrupted input;
only the corruption differs. Records carry ``input_ids``/``input_mask``/``segment_ids``
[seq_length] (segment_ids all 0: the reader's common layout) and, [target_length],
``decoder_input_ids`` (the targets shifted right behind the decoder's start id),
``decoder_input_mask`` and ``labels`` (the targets, -100 on padding). The loss is
the token cross-entropy of the model's ``logits`` [B, T, V] against ``labels``.
"""

import tensorflow as tf

from tfmodels.errors import DataError
from tfmodels.pretraining.objectives import input_tokens, masked_lm_loss
from tfmodels.pretraining.records import _int_feature, _pad

IGNORE = -100  # the label of positions the loss skips (HF's convention)
FEATURES = ("input_ids", "input_mask", "decoder_input_ids", "decoder_input_mask")


def shift_right(targets, start_id):
    """The decoder's inputs: ``start_id`` then ``targets[:-1]`` (teacher forcing)."""
    return [start_id, *targets[:-1]]


def seq2seq_example(input_ids, target_ids, seq_length, target_length, pad_id, start_id):
    """One ``tf.train.Example`` of an (input, target) pair of id lists, padded with ``pad_id``."""
    if len(input_ids) > seq_length or len(target_ids) > target_length:
        raise DataError(
            f"seq2seq example: {len(input_ids)} input / {len(target_ids)} target "
            f"ids exceed seq_length {seq_length} / target length {target_length}"
        )
    features = {
        "input_ids": _int_feature(_pad(input_ids, seq_length, pad_id)),
        "input_mask": _int_feature(_pad([1] * len(input_ids), seq_length)),
        "segment_ids": _int_feature([0] * seq_length),
        "decoder_input_ids": _int_feature(
            _pad(shift_right(target_ids, start_id), target_length, pad_id)
        ),
        "decoder_input_mask": _int_feature(_pad([1] * len(target_ids), target_length)),
        "labels": _int_feature(_pad(target_ids, target_length, IGNORE)),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def seq2seq_features(target_length):
    """The ``tf.io`` specs the decoder side adds to the reader's input features."""
    return {
        name: tf.io.FixedLenFeature([target_length], tf.int64)
        for name in ("decoder_input_ids", "decoder_input_mask", "labels")
    }


def token_loss(logits, labels, weights, label_smoothing=0.0):
    """(mean cross-entropy, metrics) over the positions with weight 1; labels there are ids.

    ``label_smoothing`` eps mixes the one-hot target with the uniform distribution
    (Szegedy et al. 2016; the Transformer's eps = 0.1, Vaswani et al. 2017, 5.4):
    loss = (1 - eps) CE + eps mean_v(-log p_v). ``lm_loss`` stays the plain CE.
    """
    weights = tf.cast(weights, tf.float32)
    labels = tf.where(weights > 0, labels, tf.zeros_like(labels))  # -100 is no class id
    loss, accuracy = masked_lm_loss(logits, labels, weights)
    total = loss
    if label_smoothing:
        uniform = -tf.reduce_mean(tf.nn.log_softmax(tf.cast(logits, tf.float32)), axis=-1)
        smooth = tf.reduce_sum(uniform * weights) / (tf.reduce_sum(weights) + 1e-5)
        total = (1.0 - label_smoothing) * loss + label_smoothing * smooth
    # lm_tokens: how many tokens the mean is over, to pool a perplexity across batches.
    return total, {"lm_loss": loss, "lm_accuracy": accuracy, "lm_tokens": tf.reduce_sum(weights)}


def seq2seq_lm_loss(model, batch, training, label_smoothing=0.0):
    """Cross-entropy of ``model(features)["logits"]`` [B, T, V] against ``labels`` [B, T],
    skipping labels of -100 and positions where ``decoder_input_mask`` is 0. Metrics:
    :func:`token_loss`'s and ``tokens``, the real (encoder) input tokens."""
    out = model({k: batch[k] for k in FEATURES if k in batch}, training=training)
    labels = tf.cast(batch["labels"], tf.int32)
    weights = tf.not_equal(labels, IGNORE)
    if "decoder_input_mask" in batch:
        weights = tf.logical_and(weights, tf.not_equal(batch["decoder_input_mask"], 0))
    loss, metrics = token_loss(out["logits"], labels, weights, label_smoothing)
    return loss, {**metrics, **input_tokens(batch)}
