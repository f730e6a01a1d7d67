"""Replaced token detection, ELECTRA's pre-training objective (Clark et al. 2020, section 2).

A generator G, a small masked LM, reads the input with 15% of the tokens masked
and learns to restore them (L_MLM). Its samples -- drawn from its softmax, not
its argmax -- replace the masked tokens, and the discriminator D predicts for
every real token whether it was replaced (L_Disc). A sample that happens to be
the original token counts as original. The two are trained jointly:

    min  L_MLM(x, theta_G) + lambda * L_Disc(x, theta_D),   lambda = 50

and the discriminator loss is not back-propagated through the sampling step.
Generator and discriminator share their token and position embeddings (section
3.1, "Weight sharing"; :func:`tfmodels.models.electra.share_embeddings`).

Batches are BERT's masked-LM features (masked ``input_ids``, ``input_mask``,
``segment_ids``, ``masked_lm_positions/ids/weights``), as written by
:mod:`tfmodels.pretraining.records` or drawn per batch by
:func:`tfmodels.pretraining.masking.dynamic_masking`. That masking is BERT's
80% [MASK] / 10% random / 10% kept; the paper masks with [MASK] alone.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.models import electra
from tfmodels.pretraining.masking import place_at
from tfmodels.pretraining.objectives import input_tokens, masked_lm_loss
from tfmodels.training import noise

RTD_WEIGHT = 50.0  # lambda, the discriminator loss weight the paper trains with
SHARED_FIELDS = ("vocab_size", "embedding_size", "max_position_embeddings", "type_vocab_size")


def check_shared_fields(generator, discriminator, fields):
    """ConfigError unless generator and discriminator agree on the embedding ``fields``."""
    for field in fields:
        if getattr(generator, field) != getattr(discriminator, field):
            raise ConfigError(
                f"{field}: the generator ({getattr(generator, field)}) and the "
                f"discriminator ({getattr(discriminator, field)}) share their "
                "embeddings, so it must be the same"
            )


def _electra_config(config):
    return config if isinstance(config, electra.Config) else electra.Config.from_dict(config)


class ElectraPretrainer(keras.Model):
    """Generator (:class:`ElectraForMaskedLM`) and discriminator (:class:`ElectraForPreTraining`)
    with shared embeddings; ``model(batch)`` is one replaced-token-detection pass.

    Returns ``mlm_logits`` [B, P, V] (generator, at the masked positions),
    ``sampled_ids`` [B, P], ``original_ids``/``corrupted_ids`` [B, S] (the input
    restored, and with the samples in place), ``rtd_labels`` [B, S] (1 where
    replaced) and ``rtd_logits`` [B, S]. ``generator`` and ``discriminator`` save
    with :func:`tfmodels.save_pretrained` as HF ElectraForMaskedLM/ElectraForPreTraining.
    """

    def __init__(self, generator_config, discriminator_config, name="electra_pretrainer", **kwargs):
        super().__init__(name=name, **kwargs)
        gen, disc = _electra_config(generator_config), _electra_config(discriminator_config)
        check_shared_fields(gen, disc, SHARED_FIELDS)
        self.generator_config, self.discriminator_config = gen, disc
        self.discriminator = electra.ElectraForPreTraining(disc, name="discriminator")
        self.generator = electra.ElectraForMaskedLM(gen, name="generator")
        electra.share_embeddings(
            self.discriminator.encoder.embedding_layer, self.generator.encoder.embedding_layer
        )
        self.built = True  # both networks are built functional models

    @classmethod
    def from_names(
        cls, generator="electra_small_generator", discriminator="electra_small_discriminator"
    ):
        """From two named configurations (tfmodels/configs/models/) or YAML paths."""
        from tfmodels.api import load_model_config

        return cls(load_model_config(generator), load_model_config(discriminator))

    def call(self, batch, training=None):
        ids, mask = batch["input_ids"], batch["input_mask"]
        segments = batch.get("segment_ids", tf.zeros_like(ids))
        positions = batch["masked_lm_positions"]
        chosen = batch["masked_lm_weights"] > 0
        generated = self.generator(
            {"input_ids": ids, "input_mask": mask, "segment_ids": segments}, training=training
        )
        # The MLM head at the masked positions only: [B, P, V] instead of [B, S, V].
        hidden = tf.gather(generated["sequence_output"], positions, batch_dims=1)
        mlm_logits = tf.cast(self.generator.mlm_head(hidden), tf.float32)
        sampled = sample_from_softmax(mlm_logits)
        original = place_at(ids, positions, batch["masked_lm_ids"], chosen)
        corrupted = place_at(ids, positions, sampled, chosen)
        discriminated = self.discriminator(
            {"input_ids": corrupted, "input_mask": mask, "segment_ids": segments}, training=training
        )
        return {
            "mlm_logits": mlm_logits,
            "sampled_ids": sampled,
            "original_ids": original,
            "corrupted_ids": corrupted,
            "rtd_labels": replaced_token_labels(corrupted, original),
            "rtd_logits": discriminated["rtd_logits"],
        }

    def get_config(self):
        return {
            "generator_config": self.generator_config.to_dict(),
            "discriminator_config": self.discriminator_config.to_dict(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def sample_from_softmax(logits):
    """One token id per position drawn from softmax(``logits``) [..., V] (Gumbel-max).

    No gradient flows through the draw (section 2). Inside a Trainer the draw is keyed
    by the run's seed and the step (:mod:`tfmodels.training.noise`), so a resumed run
    samples what an uninterrupted one does.
    """
    logits = tf.stop_gradient(tf.cast(logits, tf.float32))
    uniform = noise.uniform(tf.shape(logits), salt=1, minval=1e-9, maxval=1.0)
    gumbel = -tf.math.log(-tf.math.log(uniform))
    return tf.argmax(logits + gumbel, axis=-1, output_type=tf.int32)


def replaced_token_labels(corrupted, original):
    """1 exactly where the discriminator's input differs from the original, else 0."""
    return tf.cast(tf.not_equal(corrupted, original), tf.int32)


def replaced_token_loss(logits, labels, input_mask):
    """Mean sigmoid cross-entropy and accuracy of the RTD logits over the real tokens."""
    logits = tf.cast(logits, tf.float32)
    labels = tf.cast(labels, tf.float32)
    weights = tf.cast(input_mask, tf.float32)
    total = tf.reduce_sum(weights) + 1e-6
    losses = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits)
    correct = tf.cast(tf.equal(tf.cast(logits > 0, tf.float32), labels), tf.float32)
    return tf.reduce_sum(losses * weights) / total, tf.reduce_sum(correct * weights) / total


def electra_pretraining_loss(model, batch, training, rtd_weight=RTD_WEIGHT):
    """``L_MLM + rtd_weight * L_Disc`` and metrics for one batch; a Trainer ``loss_fn``."""
    out = model(batch, training=training)
    mlm_loss, mlm_accuracy = masked_lm_loss(
        out["mlm_logits"], batch["masked_lm_ids"], batch["masked_lm_weights"]
    )
    rtd_loss, rtd_accuracy = replaced_token_loss(
        out["rtd_logits"], out["rtd_labels"], batch["input_mask"]
    )
    weights = tf.cast(batch["input_mask"], tf.float32)
    replaced = tf.reduce_sum(tf.cast(out["rtd_labels"], tf.float32) * weights) / (
        tf.reduce_sum(weights) + 1e-6
    )
    metrics = {
        "mlm_loss": mlm_loss,
        "mlm_accuracy": mlm_accuracy,
        "rtd_loss": rtd_loss,
        "rtd_accuracy": rtd_accuracy,
        "replaced_fraction": replaced,
        **input_tokens(batch),
    }
    return mlm_loss + rtd_weight * rtd_loss, metrics
