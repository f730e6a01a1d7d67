"""DistilBERT (Sanh et al. 2019): BERT-base halved in depth, trained by distillation.

Section 2 of the paper: "the token-type embeddings and the pooler are removed
while the number of layers is reduced by a factor of 2"; the blocks are BERT's.
So the network is :class:`tfmodels.models.bert.BertModel` with
``type_vocab_size=0`` and no pooler. ``segment_ids`` stays a model input (every
family takes the same features) and is ignored. The heads follow the reference
implementation: the masked LM is BERT's; the classifier is Dense + ReLU + Dense
over [CLS]. The distillation loss (section 2, "Training loss") is
:func:`tfmodels.compression.distill.distilbert_loss`.
"""

import dataclasses

from tfmodels.errors import ConfigError
from tfmodels.layers import ClassificationHead
from tfmodels.models import bert
from tfmodels.models.base import first_token
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(bert.Config):
    """Defaults are HF ``DistilBertConfig``'s, i.e. distilbert-base-uncased."""

    family = "distilbert"
    HF_NAMES = {
        "dim": "hidden_size",
        "n_layers": "num_layers",
        "n_heads": "num_heads",
        "hidden_dim": "intermediate_size",
        "activation": "hidden_act",
        "dropout": "hidden_dropout",
        "attention_dropout": "attention_dropout",
        "seq_classif_dropout": "classifier_dropout",
    }

    num_layers: int = 6
    type_vocab_size: int = 0
    classifier_dropout: float = 0.2
    sinusoidal_pos_embds: bool = False
    tie_word_embeddings: bool = True

    def __post_init__(self):
        super().__post_init__()
        if self.type_vocab_size:
            raise ConfigError(
                "type_vocab_size: DistilBERT has no token types; it must be 0, "
                f"got {self.type_vocab_size}"
            )
        if self.embedding_size not in (None, self.hidden_size):
            raise ConfigError(
                f"embedding_size: DistilBERT's embeddings are hidden_size "
                f"({self.hidden_size}) wide, got {self.embedding_size}"
            )
        if self.sinusoidal_pos_embds:
            raise ConfigError(
                "sinusoidal_pos_embds=true (fixed sinusoidal positions) is not "
                "supported; positions are learned"
            )
        if not self.tie_word_embeddings:
            raise ConfigError(
                "tie_word_embeddings=false is not supported: the masked LM's "
                "output table is the input word table"
            )

    def to_hf(self):
        hf = super().to_hf()
        hf.pop("type_vocab_size")  # always 0; the reference config has no such key
        return hf


class DistilBertModel(bert.BertModel):
    """Features -> ``{sequence_output, encoder_outputs[, attention_scores]
    [, first_token_output]}`` (no pooler);
    ``segment_ids`` is accepted and ignored."""

    architecture = "DistilBertModel"
    config_class = Config

    def __init__(self, config, with_pooler=False, **kwargs):
        if with_pooler:
            raise ConfigError("with_pooler: DistilBERT has no pooler")
        super().__init__(config, with_pooler=False, **kwargs)


class DistilBertForMaskedLM(bert.BertForMaskedLM):
    """Masked-LM logits [B, S, V]: BERT's head (Dense + activation + LayerNorm, tied table)."""

    architecture = "DistilBertForMaskedLM"
    encoder_class = DistilBertModel


class DistilBertForSequenceClassification(bert.BertForSequenceClassification):
    """Logits [B, num_labels] from [CLS]: Dense + ReLU, dropout, Dense.

    ``ClassificationHead`` also drops out its input ([CLS]) in training, which the
    reference does not; inference is the same.
    """

    architecture = "DistilBertForSequenceClassification"
    encoder_class = DistilBertModel
    with_pooler = False

    def _heads(self, encoder, backbone, num_labels=2):
        cfg = encoder.config
        head = ClassificationHead(
            num_labels,
            inner_dim=cfg.hidden_size,
            activation="relu",
            dropout_rate=cfg.classifier_dropout,
            initializer_range=cfg.initializer_range,
            name="classifier",
        )
        return {"logits": head(first_token(backbone))}, {"classifier_head": head}


class DistilBertForTokenClassification(bert.BertForTokenClassification):
    """Logits [B, S, num_labels]: BERT's token head; the reference drops out with
    ``dropout`` (hidden), not ``seq_classif_dropout``."""

    architecture = "DistilBertForTokenClassification"
    encoder_class = DistilBertModel
    dropout_field = "hidden_dropout"


class DistilBertForQuestionAnswering(bert.BertForQuestionAnswering):
    """Span start/end logits [B, S] after dropout on the sequence output (the reference's
    ``qa_dropout``, taken here as ``hidden_dropout``: both default to 0.1)."""

    architecture = "DistilBertForQuestionAnswering"
    encoder_class = DistilBertModel

    def _heads(self, encoder, backbone):
        return bert.span_outputs(encoder, backbone, encoder.config.hidden_dropout)


FAMILY = Family(
    "distilbert",
    Config,
    tasks={
        "backbone": DistilBertModel,
        "pretraining": DistilBertForMaskedLM,
        "masked_lm": DistilBertForMaskedLM,
        "classification": DistilBertForSequenceClassification,
        "token_classification": DistilBertForTokenClassification,
        "question_answering": DistilBertForQuestionAnswering,
    },
    converter="tfmodels.convert.distilbert",
    tokenizer="wordpiece",
    packing="bert",
    objective="mlm",
)


def from_config(config):
    """The backbone of a :class:`Config` (or its dict)."""
    return DistilBertModel(config)
