"""SpanBERT's pre-training loss: L_MLM + L_SBO (Joshi et al. 2020, section 3.2).

Both terms are cross-entropies over the same masked tokens: the MLM predicts x_i
from its own encoding, the span boundary objective from the span's boundary
encodings and the relative position i - s. Positions deeper into a span than the
SBO head has position rows are left out of L_SBO (the reference code drops them
too) but stay in L_MLM. Batches are :func:`span_masking.encode_span_example`
features (``span_left``/``span_right`` next to BERT's masked-LM ones).
"""

import tensorflow as tf

from tfmodels.layers.span_boundary_head import span_relative_positions
from tfmodels.pretraining.objectives import FEATURES, input_tokens, masked_lm_loss


def span_pretraining_loss(model, batch, training):
    """Loss and metrics (mlm_loss/accuracy, sbo_loss/accuracy, tokens) of a
    SpanBertForPreTraining."""
    out = model({k: batch[k] for k in FEATURES}, training=training)
    sequence = out["sequence_output"]
    positions, labels = batch["masked_lm_positions"], batch["masked_lm_ids"]
    weights = tf.cast(batch["masked_lm_weights"], tf.float32)
    # Heads on the masked positions only: [B, P, V] logits instead of [B, S, V].
    hidden = tf.gather(sequence, positions, batch_dims=1)
    mlm_loss, mlm_accuracy = masked_lm_loss(model.mlm_head(hidden), labels, weights)
    head = model.sbo_head
    in_table = span_relative_positions(positions, batch["span_left"]) < head.max_positions
    sbo_loss, sbo_accuracy = masked_lm_loss(
        head(sequence, positions, batch["span_left"], batch["span_right"]),
        labels,
        weights * tf.cast(in_table, tf.float32),
    )
    metrics = {
        "mlm_loss": mlm_loss,
        "mlm_accuracy": mlm_accuracy,
        "sbo_loss": sbo_loss,
        "sbo_accuracy": sbo_accuracy,
        **input_tokens(batch),
    }
    return mlm_loss + sbo_loss, metrics
