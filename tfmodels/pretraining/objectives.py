"""BERT's pre-training loss: masked LM + next-sentence prediction (Devlin et al. 2019, 3.1).

The MLM loss is the cross-entropy at the masked positions only, averaged over
the real (weight 1) predictions; models without a sentence head (masked-LM
only, as RoBERTa) get no NSP term.
"""
import tensorflow as tf

FEATURES = ("input_ids", "input_mask", "segment_ids")


def masked_lm_loss(logits, labels, weights):
    """Mean cross-entropy and accuracy over the weighted masked positions."""
    logits = tf.cast(logits, tf.float32)
    losses = tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    total = tf.reduce_sum(weights) + 1e-5
    correct = tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels), tf.float32)
    return tf.reduce_sum(losses * weights) / total, tf.reduce_sum(correct * weights) / total


def pretraining_loss(model, batch, training):
    """Loss and metrics for one batch of :func:`records.pretraining_dataset` features."""
    out = model({k: batch[k] for k in FEATURES}, training=training)
    # The head runs on the masked positions only: [B, P, V] logits instead of [B, S, V]
    # (the model's full ``mlm_logits`` output is unused here and pruned from the graph).
    hidden = tf.gather(out["sequence_output"], batch["masked_lm_positions"], batch_dims=1)
    mlm_loss, mlm_accuracy = masked_lm_loss(model.mlm_head(hidden), batch["masked_lm_ids"],
                                            batch["masked_lm_weights"])
    metrics = {"mlm_loss": mlm_loss, "mlm_accuracy": mlm_accuracy}
    loss = mlm_loss
    if "sentence_logits" in out:
        labels = batch["next_sentence_labels"][:, 0]
        logits = tf.cast(out["sentence_logits"], tf.float32)
        nsp_loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(
            labels, logits, from_logits=True))
        correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), labels)
        metrics.update(nsp_loss=nsp_loss,
                       nsp_accuracy=tf.reduce_mean(tf.cast(correct, tf.float32)))
        loss += nsp_loss
    return loss, metrics
