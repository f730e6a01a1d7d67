"""DeBERTaV3 pre-training: replaced token detection with gradient-disentangled embedding
sharing (He et al. 2023, sections 3.2 and 4; "GDES").

ELECTRA's generator and discriminator share one token table, so the MLM loss and
the RTD loss pull it in opposite directions ("tug-of-war", section 4.1). GDES
re-parameterizes the discriminator's table as

    E_D = sg(E_G) + E_Delta,    E_Delta initialized to zero,

so the discriminator reads the generator's table without sending its gradient
back into it; E_G is trained by the MLM loss alone and E_Delta by the RTD loss
(eq. in section 4.2). After training E_D = E_G + E_Delta is written into a plain
DeBERTa checkpoint (:meth:`GdesPretrainer.discriminator_backbone`).

The objective is ELECTRA's (:mod:`tfmodels.pretraining.replaced_token_detection`:
sampling, labels, losses, ``RTD_WEIGHT``); the generator is DeBERTa's MLM with the
enhanced mask decoder (:class:`tfmodels.models.deberta.DebertaV2ForPreTraining`) and the
discriminator a DeBERTa encoder with an RTD head. Batches are masked-LM features.
"""

import tensorflow as tf
import tf_keras as keras

from tfmodels.convert import deberta as converter
from tfmodels.convert.weight_map import check_and_assign, read_weights
from tfmodels.layers import ClassificationHead, TransformerEmbeddings
from tfmodels.models import deberta
from tfmodels.models.base import feature_inputs
from tfmodels.pretraining.masking import place_at
from tfmodels.pretraining.replaced_token_detection import (
    RTD_WEIGHT,
    check_shared_fields,
    electra_pretraining_loss,
    replaced_token_labels,
    sample_from_softmax,
)

SHARED_FIELDS = ("vocab_size", "hidden_size")


class GradientDisentangledEmbeddings(TransformerEmbeddings):
    """Token embeddings whose table is ``stop_gradient(shared.word_embeddings) + E_Delta``.

    The layer's own word table variable is E_Delta (``delta_embeddings``, zero at
    start); ``word_embeddings`` reads as the sum, so the lookup and any head tied
    to this layer see E_D. ``shared`` is the generator's built embedding layer.
    """

    def __init__(self, shared, **kwargs):
        super().__init__(**kwargs)
        self.shared = shared

    @property
    def word_embeddings(self):
        delta = getattr(self, "delta_embeddings", None)
        if delta is None:
            return None
        return tf.stop_gradient(tf.convert_to_tensor(self.shared.word_embeddings)) + delta

    @word_embeddings.setter
    def word_embeddings(self, variable):
        self.delta_embeddings = variable  # TransformerEmbeddings.build's table is E_Delta

    def build(self, input_shape):
        super().build(input_shape)
        with tf.init_scope():
            self.delta_embeddings.assign(tf.zeros_like(self.delta_embeddings))


def _deberta_config(config):
    return config if isinstance(config, deberta.Config) else deberta.Config.from_dict(config)


class GdesPretrainer(keras.Model):
    """Generator (:class:`DebertaV2ForPreTraining`, EMD masked LM) and discriminator (DeBERTa
    encoder + RTD head, table E_G + E_Delta); ``model(batch)`` is one RTD pass.

    Returns what :class:`ElectraPretrainer` returns (``mlm_logits`` [B, P, V] at the
    masked positions, ``sampled_ids``, ``original_ids``, ``corrupted_ids``,
    ``rtd_labels``, ``rtd_logits``), so :func:`gdes_pretraining_loss` is ELECTRA's loss.
    """

    def __init__(self, generator_config, discriminator_config, name="gdes_pretrainer", **kwargs):
        super().__init__(name=name, **kwargs)
        gen, disc = _deberta_config(generator_config), _deberta_config(discriminator_config)
        check_shared_fields(gen, disc, SHARED_FIELDS)
        self.generator_config, self.discriminator_config = gen, disc
        self.generator = deberta.DebertaV2ForPreTraining(gen, name="generator")
        embeddings = GradientDisentangledEmbeddings(
            self.generator.encoder.embedding_layer,
            vocab_size=disc.vocab_size,
            embedding_size=disc.hidden_size,
            max_positions=disc.max_position_embeddings if disc.position_biased_input else 0,
            type_vocab_size=disc.type_vocab_size,
            layer_norm_eps=disc.layer_norm_eps,
            dropout_rate=disc.hidden_dropout,
            initializer_range=disc.initializer_range,
            name="embeddings",
        )
        inputs = feature_inputs()
        self.discriminator_encoder = deberta.DebertaV2Model(
            disc, embedding_layer=embeddings, name="encoder"
        )
        self.rtd_head = ClassificationHead(
            1,
            inner_dim=disc.hidden_size,
            activation=disc.hidden_act,
            dropout_rate=0.0,
            initializer_range=disc.initializer_range,
            name="rtd",
        )
        sequence = self.discriminator_encoder(inputs)["sequence_output"]
        self.discriminator = keras.Model(
            inputs,
            {"sequence_output": sequence, "rtd_logits": self.rtd_head(sequence)[..., 0]},
            name="discriminator",
        )
        self.disentangled_embeddings = embeddings
        self.built = True

    @property
    def generator_embeddings(self):
        """E_G, the generator's token table (trained by the MLM loss only)."""
        return self.generator.encoder.embedding_layer.word_embeddings

    @property
    def delta_embeddings(self):
        """E_Delta, the discriminator's residual table (trained by the RTD loss only)."""
        return self.disentangled_embeddings.delta_embeddings

    def call(self, batch, training=None):
        ids, mask = batch["input_ids"], batch["input_mask"]
        features = {
            "input_ids": ids,
            "input_mask": mask,
            "segment_ids": batch.get("segment_ids", tf.zeros_like(ids)),
        }
        positions, chosen = batch["masked_lm_positions"], batch["masked_lm_weights"] > 0
        decoded = self.generator(features, training=training)["decoder_output"]
        # The MLM head at the masked positions only: [B, P, V] instead of [B, S, V].
        mlm_logits = tf.cast(
            self.generator.mlm_head(tf.gather(decoded, positions, batch_dims=1)), tf.float32
        )
        sampled = sample_from_softmax(mlm_logits)
        original = place_at(ids, positions, batch["masked_lm_ids"], chosen)
        corrupted = place_at(ids, positions, sampled, chosen)
        rtd_logits = self.discriminator({**features, "input_ids": corrupted}, training=training)[
            "rtd_logits"
        ]
        return {
            "mlm_logits": mlm_logits,
            "sampled_ids": sampled,
            "original_ids": original,
            "corrupted_ids": corrupted,
            "rtd_labels": replaced_token_labels(corrupted, original),
            "rtd_logits": rtd_logits,
        }

    def discriminator_backbone(self):
        """A plain :class:`DebertaV2Model` with the discriminator's weights and E_G + E_Delta
        as its token table: saved with ``save_pretrained`` it is a DebertaV2Model checkpoint."""
        plain = deberta.DebertaV2Model(self.discriminator_config, name="encoder")
        check_and_assign(
            converter.backbone_weights(plain),
            read_weights(converter.backbone_weights(self.discriminator_encoder)),
            "GDES discriminator",
        )
        return plain

    def get_config(self):
        return {
            "generator_config": self.generator_config.to_dict(),
            "discriminator_config": self.discriminator_config.to_dict(),
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def gdes_pretraining_loss(model, batch, training, rtd_weight=RTD_WEIGHT):
    """``L_MLM + rtd_weight * L_RTD`` and metrics: ELECTRA's loss on a :class:`GdesPretrainer`.

    GDES changes where the gradients go (the table's stop-gradient), not the loss.
    """
    return electra_pretraining_loss(model, batch, training, rtd_weight=rtd_weight)


def build_pretrainer(cfg, init_checkpoint=None):
    """The ``rtd_gdes`` objective's model (tfmodels.pretraining.registry): a DeBERTa
    discriminator (``model.name``) and generator (``task.generator``)."""
    from tfmodels.pretraining.pretrain_experiment import build_generator_discriminator

    return build_generator_discriminator(
        cfg,
        init_checkpoint,
        GdesPretrainer,
        "deberta-v2",
        "rtd_gdes (DeBERTaV3, He et al. 2023, 3.2)",
    )
