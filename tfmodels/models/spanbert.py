"""SpanBERT (Joshi et al. 2020): BERT's network pre-trained on masked spans.

The network is :class:`tfmodels.models.bert.BertModel` unchanged -- released
checkpoints are HF ``BertModel`` (model_type "bert", cased vocabulary; the named
configuration is ``spanbert_base_cased``). What is new is pre-training: span
masking (section 3.1, :mod:`tfmodels.pretraining.span_masking`), the span
boundary objective next to the masked LM (section 3.2,
:class:`tfmodels.layers.SpanBoundaryHead`; loss in
:mod:`tfmodels.pretraining.span_objective`), and single segments without
next-sentence prediction (section 3.3), hence no NSP head and no pooler in training.
"""

import tensorflow as tf

from tfmodels.layers import SpanBoundaryHead
from tfmodels.models import bert
from tfmodels.models.base import TaskModel


class SpanBertForPreTraining(TaskModel):
    """BERT with the tied MLM head and the SBO head; outputs as :class:`bert.BertForMaskedLM`.

    ``model(features)`` gives ``sequence_output`` and ``mlm_logits`` [B, S, V]; the SBO
    head ``model.sbo_head(sequence_output, positions, span_left, span_right)`` needs
    the masked positions, so the objective calls it. ``max_span_positions`` is the
    number of relative position rows (the reference's ``max_pair_targets``, 20);
    ``position_size`` their width (200). Both weights are built with the model.

    The SBO head exists only in training checkpoints: :meth:`released_encoder` is the
    network as SpanBERT releases it, a BertModel for ``tfmodels.save_pretrained``.
    """

    architecture = "SpanBertForPreTraining"
    encoder_class = bert.BertModel
    with_pooler = False  # no NSP (section 3.3), so nothing trains a pooler

    @classmethod
    def from_name(cls, name="spanbert_base_cased", **head_args):
        """From a named configuration (tfmodels/configs/models/) or a YAML path."""
        from tfmodels.api import load_model_config

        return cls(load_model_config(name), **head_args)

    def _heads(self, encoder, backbone, max_span_positions=20, position_size=200):
        cfg = encoder.config
        mlm = bert.masked_lm_head(encoder)
        sbo = SpanBoundaryHead(
            encoder.embedding_layer,
            max_positions=max_span_positions,
            position_size=position_size,
            activation=cfg.hidden_act,
            layer_norm_eps=cfg.layer_norm_eps,
            initializer_range=cfg.initializer_range,
            name="sbo",
        )
        sequence = backbone["sequence_output"]
        with tf.name_scope(sbo.name):  # variables named sbo/..., as a first call would
            sbo.build(sequence.shape)
        return (
            {"sequence_output": sequence, "mlm_logits": mlm(sequence)},
            {"mlm_head": mlm, "sbo_head": sbo},
        )

    def released_encoder(self):
        """A :class:`bert.BertModel` with the trained weights and a freshly initialized
        pooler (nothing trained it), as the released SpanBERT BertModel checkpoints."""
        encoder = bert.BertModel(self.config, name="encoder")
        encoder.embedding_layer.set_weights(self.encoder.embedding_layer.get_weights())
        for source, target in zip(self.encoder.transformer_layers, encoder.transformer_layers):
            target.set_weights(source.get_weights())
        return encoder
