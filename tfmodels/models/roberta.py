"""RoBERTa (Liu et al. 2019): BERT's network, trained differently.

Section 4 of the paper changes the training, not the architecture: dynamic
masking (4.1), full sentences without next-sentence prediction (4.2), large
batches (4.3), byte-level BPE (4.4). What is left for the network is
configuration of :mod:`tfmodels.models.bert`: positions numbered from
``pad_token_id + 1`` (fairseq's convention, kept by the released checkpoints),
one token type, LayerNorm epsilon 1e-5, no NSP head, and a classifier that adds a
tanh Dense over ``<s>`` (``ClassificationHead(inner_dim=H)``) instead of the pooler.

Positions are counted from the start of the sequence, which equals the
reference's count of non-padding tokens for right-padded inputs (the only kind
the preprocessor makes).
"""

import dataclasses
from typing import Optional

from tfmodels.layers import ClassificationHead, MaskedLMHead
from tfmodels.models import bert
from tfmodels.models.base import first_token
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(bert.Config):
    family = "roberta"

    vocab_size: int = 50265
    max_position_embeddings: int = 514  # 512 positions after the offset of pad_token_id + 1
    type_vocab_size: int = 1
    layer_norm_eps: float = 1e-5
    pad_token_id: int = 1
    bos_token_id: Optional[int] = 0
    eos_token_id: Optional[int] = 2

    @property
    def position_offset(self):
        return self.pad_token_id + 1


class RobertaModel(bert.BertModel):
    """Features -> ``{sequence_output, pooled_output, encoder_outputs}``; ``segment_ids``
    must be 0 (one token type)."""

    architecture = "RobertaModel"
    config_class = Config  # its position_offset numbers positions after the padding id


class RobertaForMaskedLM(bert.BertForMaskedLM):
    """Masked-LM logits [B, S, V] (section 4.1: dynamic masking, no NSP).

    The reference head always uses exact GELU, whatever ``hidden_act`` says.
    """

    architecture = "RobertaForMaskedLM"
    encoder_class = RobertaModel

    def _heads(self, encoder, backbone):
        cfg = encoder.config
        mlm = MaskedLMHead(
            encoder.embedding_layer,
            activation="gelu",
            layer_norm_eps=cfg.layer_norm_eps,
            initializer_range=cfg.initializer_range,
            name="mlm",
        )
        return (
            {
                "sequence_output": backbone["sequence_output"],
                "mlm_logits": mlm(backbone["sequence_output"]),
            },
            {"mlm_head": mlm},
        )


class RobertaForSequenceClassification(bert.BertForSequenceClassification):
    """Logits [B, num_labels] from ``<s>``: dropout, tanh Dense, dropout, Dense."""

    architecture = "RobertaForSequenceClassification"
    encoder_class = RobertaModel
    with_pooler = False  # the inner Dense of the head takes the pooler's place

    def _heads(self, encoder, backbone, num_labels=2):
        cfg = encoder.config
        head = ClassificationHead(
            num_labels,
            inner_dim=cfg.hidden_size,
            activation="tanh",
            dropout_rate=cfg.hidden_dropout,
            initializer_range=cfg.initializer_range,
            name="classifier",
        )
        return ({"logits": head(first_token(backbone))}, {"classifier_head": head})


class RobertaForTokenClassification(bert.BertForTokenClassification):
    """Logits [B, S, num_labels]: BERT's token head (dropout + Dense), as the reference's."""

    architecture = "RobertaForTokenClassification"
    encoder_class = RobertaModel


class RobertaForQuestionAnswering(bert.BertForQuestionAnswering):
    """Span start/end logits [B, S]: BERT's span head on the sequence output."""

    architecture = "RobertaForQuestionAnswering"
    encoder_class = RobertaModel


FAMILY = Family(
    "roberta",
    Config,
    tasks={
        "backbone": RobertaModel,
        "pretraining": RobertaForMaskedLM,
        "masked_lm": RobertaForMaskedLM,
        "classification": RobertaForSequenceClassification,
        "token_classification": RobertaForTokenClassification,
        "question_answering": RobertaForQuestionAnswering,
    },
    converter="tfmodels.convert.roberta",
    tokenizer="byte_bpe",
    packing="roberta",
    objective="mlm",
    positions_after_padding=True,
)


def from_config(config):
    """The backbone of a :class:`Config` (or its dict)."""
    return RobertaModel(config)
