"""The losses of knowledge distillation, on tensors (no models here).

Soft targets (Hinton et al. 2015): the student matches the teacher's softened
distribution. DistilBERT (Sanh et al. 2019, section 3) adds a cosine loss that
aligns the directions of the last hidden states; TinyBERT (Jiao et al. 2020,
section 3.1, eqs. 7-11) adds mean-squared errors on the embeddings, the
attention scores and the hidden states of mapped layers.

Every soft-target loss here is the KL divergence ``KL(p_teacher || p_student)``:
the cross-entropy ``-sum p_teacher log p_student`` that the papers write differs
from it by the teacher's entropy, a constant for the student, so the gradients
are the same and the loss is exactly 0 when the student matches the teacher.
All losses compute in float32 and treat the teacher as a constant.
"""

import tensorflow as tf


def _weighted_mean(values, weights=None):
    """Mean of ``values`` over the entries whose weight is non-zero (all if None)."""
    if weights is None:
        return tf.reduce_mean(values)
    weights = tf.cast(weights, tf.float32)
    return tf.reduce_sum(values * weights) / tf.maximum(tf.reduce_sum(weights), 1e-9)


def _pair(student, teacher):
    return tf.cast(student, tf.float32), tf.stop_gradient(tf.cast(teacher, tf.float32))


def soft_target_loss(student_logits, teacher_logits, temperature=1.0, weights=None):
    """``KL(softmax(t / T) || softmax(s / T))`` over the last axis, averaged over the
    other positions (those with non-zero ``weights``, e.g. the real tokens).

    Without the ``T**2`` factor of Hinton et al. (section 2): callers that mix it
    with hard-label losses multiply it in, as DistilBERT does.
    """
    student, teacher = _pair(student_logits, teacher_logits)
    log_p_teacher = tf.nn.log_softmax(teacher / temperature, axis=-1)
    log_p_student = tf.nn.log_softmax(student / temperature, axis=-1)
    kl = tf.reduce_sum(tf.exp(log_p_teacher) * (log_p_teacher - log_p_student), axis=-1)
    return _weighted_mean(kl, weights)


def regression_distillation_loss(student_logits, teacher_logits):
    """A one-output (regression) head has no distribution: MSE on the predictions,
    as TinyBERT's code does for STS-B."""
    student, teacher = _pair(student_logits, teacher_logits)
    return tf.reduce_mean(tf.square(student - teacher))


def cosine_embedding_loss(student_hidden, teacher_hidden, weights=None):
    """``1 - cos(h_s, h_t)`` per position, averaged over the positions with non-zero
    ``weights`` (DistilBERT: the real tokens; PyTorch's CosineEmbeddingLoss, target 1)."""
    student, teacher = _pair(student_hidden, teacher_hidden)
    cosine = tf.reduce_sum(
        tf.math.l2_normalize(student, axis=-1) * tf.math.l2_normalize(teacher, axis=-1), axis=-1
    )
    return _weighted_mean(1.0 - cosine, weights)


def mse(student, teacher, weights=None):
    """Mean squared error (TinyBERT's ``MSE``, eqs. 9-10) of [B, S, H] states: over every
    element, or with ``weights`` [B, S] (the real tokens) over the real positions only.
    The authors average over every position of batches padded to 128; batches padded
    to their own length (:mod:`tfmodels.tasks.batching`) would change that mean batch by
    batch, the mean over real tokens does not depend on the padding."""
    student, teacher = _pair(student, teacher)
    return _weighted_mean(tf.reduce_mean(tf.square(student - teacher), axis=-1), weights)


def attention_score_loss(student_scores, teacher_scores, weights=None):
    """TinyBERT's attention loss (eq. 8): MSE between *unnormalised* attention scores
    [B, heads, Q, K], averaged over heads. The scores are expected with the masked
    key positions already set to 0, as the authors' code does (their -10000 mask
    values become 0 before the MSE), so padded keys add nothing. With ``weights``
    [B, S] (the real tokens) the mean is over real queries and keys only."""
    if weights is None:
        return mse(student_scores, teacher_scores)
    student, teacher = _pair(student_scores, teacher_scores)
    weights = tf.cast(weights, tf.float32)
    keys = tf.maximum(tf.reduce_sum(weights, axis=-1), 1.0)[:, None, None]  # [B, 1, 1]
    per_query = tf.reduce_sum(tf.square(student - teacher), axis=-1) / keys  # [B, h, Q]
    return _weighted_mean(per_query, tf.broadcast_to(weights[:, None, :], tf.shape(per_query)))


def hard_label_loss(logits, labels):
    """Cross-entropy with the true labels, or MSE for a one-output regression head."""
    logits = tf.cast(logits, tf.float32)
    if logits.shape[-1] == 1:
        return tf.reduce_mean(tf.square(logits[:, 0] - tf.cast(labels, tf.float32)))
    return tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.cast(labels, tf.int32), logits=logits
        )
    )
