"""Logit filters for sampling: temperature, top-k (Fan et al. 2018) and top-p
(nucleus, Holtzman et al. 2020, section 3.1).

Filtered-out tokens get ``-inf``, so a categorical draw never picks them.
"""

import tensorflow as tf


def filter_logits(logits, temperature=1.0, top_k=0, top_p=1.0):
    """``logits`` [N, V] divided by ``temperature``, keeping the ``top_k`` largest
    (0: all) and the smallest set of tokens whose probability reaches ``top_p``."""
    logits = tf.cast(logits, tf.float32) / temperature
    neg_inf = tf.fill(tf.shape(logits), float("-inf"))
    if top_k:
        kth = tf.math.top_k(logits, k=top_k).values[:, -1:]
        logits = tf.where(logits < kth, neg_inf, logits)
    if top_p < 1.0:
        ordered = tf.sort(logits, axis=-1, direction="DESCENDING")
        probs = tf.nn.softmax(ordered, axis=-1)
        before = tf.cumsum(probs, axis=-1, exclusive=True)  # mass of the better tokens
        # Keep a token while the better ones have not reached top_p (the first always).
        kept = tf.where(before < top_p, ordered, tf.fill(tf.shape(ordered), float("inf")))
        threshold = tf.reduce_min(kept, axis=-1, keepdims=True)
        logits = tf.where(logits < threshold, neg_inf, logits)
    return logits
