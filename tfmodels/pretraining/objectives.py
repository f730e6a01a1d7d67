"""Masked-LM pre-training losses: BERT's MLM + NSP, RoBERTa's MLM alone, ALBERT's MLM + SOP.

The MLM loss is the cross-entropy at the masked positions only, averaged over
the real (weight 1) predictions (Devlin et al. 2019, 3.1). The sentence task is a
2-way softmax over ``sentence_logits`` with ``next_sentence_labels``: whether B
is random (NSP, BERT 3.1) or whether the two segments are swapped (SOP, Lan et
al. 2020, 3.1; the head is the same, only the data differ). RoBERTa drops it
(Liu et al. 2019, 4.2). Each ``*_loss`` is a Trainer ``loss_fn`` named in
:mod:`tfmodels.pretraining.registry`; every objective's metrics include ``tokens``
(:func:`input_tokens`), which the Trainer sums and shows as tokens/s.
"""

import tensorflow as tf

from tfmodels.training.trainer import token_count

FEATURES = ("input_ids", "input_mask", "segment_ids")


def input_tokens(batch):
    """``{"tokens": the batch's real input tokens}``: the sum of its ``input_mask`` (padding
    is 0) as a float32 scalar. Every pre-training objective adds it to its metrics; the
    Trainer sums it over replicas and micro-batches and shows tokens/s."""
    return token_count(batch["input_mask"])


def masked_lm_loss(logits, labels, weights):
    """Mean cross-entropy and accuracy over the weighted masked positions."""
    logits = tf.cast(logits, tf.float32)
    losses = tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    total = tf.reduce_sum(weights) + 1e-5
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
    return tf.reduce_sum(losses * weights) / total, tf.reduce_sum(correct * weights) / total


def _masked_lm(model, batch, training):
    """The model's outputs and its MLM loss and metrics."""
    out = model({k: batch[k] for k in FEATURES}, training=training)
    # The head runs on the masked positions only: [B, P, V] logits instead of [B, S, V]
    # (the model's full ``mlm_logits`` output is unused here and pruned from the graph).
    hidden = tf.gather(out["sequence_output"], batch["masked_lm_positions"], batch_dims=1)
    mlm_loss, mlm_accuracy = masked_lm_loss(
        model.mlm_head(hidden), batch["masked_lm_ids"], batch["masked_lm_weights"]
    )
    metrics = {"mlm_loss": mlm_loss, "mlm_accuracy": mlm_accuracy, **input_tokens(batch)}
    return out, mlm_loss, metrics


def sentence_loss(logits, labels, prefix):
    """Mean 2-way cross-entropy and accuracy of ``sentence_logits``, named ``{prefix}_*``."""
    labels = labels[:, 0]
    logits = tf.cast(logits, tf.float32)
    loss = tf.reduce_mean(
        tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    )
    correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
    return loss, {
        f"{prefix}_loss": loss,
        f"{prefix}_accuracy": tf.reduce_mean(tf.cast(correct, tf.float32)),
    }


def masked_lm_only_loss(model, batch, training):
    """RoBERTa's objective (``mlm``): the masked-LM loss alone."""
    _, loss, metrics = _masked_lm(model, batch, training)
    return loss, metrics


def _masked_lm_and_sentence(model, batch, training, prefix):
    out, loss, metrics = _masked_lm(model, batch, training)
    if "sentence_logits" in out:  # the registry checks mlm_nsp/mlm_sop models have the head
        sentence, more = sentence_loss(
            out["sentence_logits"], batch["next_sentence_labels"], prefix
        )
        loss += sentence
        metrics.update(more)
    return loss, metrics


def pretraining_loss(model, batch, training):
    """BERT's objective (``mlm_nsp``): masked LM + next-sentence prediction."""
    return _masked_lm_and_sentence(model, batch, training, "nsp")


def sentence_order_loss(model, batch, training):
    """ALBERT's objective (``mlm_sop``): masked LM + sentence-order prediction."""
    return _masked_lm_and_sentence(model, batch, training, "sop")
