"""ELECTRA (Clark et al. 2020): BERT's network, pre-trained as a discriminator.

Section 2 of the paper: a small masked-LM *generator* fills the masked positions
with samples, and the *discriminator* -- the model kept for fine-tuning -- tells
for every token whether it was replaced (replaced token detection, RTD; the
objective is in :mod:`tfmodels.pretraining.replaced_token_detection`). Both are
:class:`tfmodels.models.bert.BertModel` configured as ELECTRA: embeddings E wide
with a Dense to H where E != H (``embeddings_project``: 128 -> 256 in ELECTRA-Small,
or down to a generator narrower than the shared embeddings), no pooler. The heads are
ELECTRA's: RTD logits per token (Dense + activation + Dense to 1), the generator's masked LM tied to
the word table, and a classifier over [CLS] (Dense + GELU + Dense, after the
reference implementation). Generator and discriminator share their embeddings
(section 3.1, "Weight sharing"): :func:`share_embeddings`.
"""

import dataclasses
from typing import Optional

from tfmodels.errors import ConfigError
from tfmodels.layers import ClassificationHead, MaskedLMHead
from tfmodels.models import bert
from tfmodels.models.base import TaskModel, first_token
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(bert.Config):
    """Defaults are HF ``ElectraConfig``'s, i.e. electra-small-discriminator."""

    family = "electra"

    embedding_size: int = 128  # always set: HF's default for a missing key is 128, not H
    hidden_size: int = 256
    num_heads: int = 4
    intermediate_size: int = 1024
    classifier_dropout: Optional[float] = None  # None: hidden_dropout
    tie_word_embeddings: bool = True

    def __post_init__(self):
        super().__post_init__()
        if not self.tie_word_embeddings:
            raise ConfigError(
                "tie_word_embeddings=false is not supported: the generator's "
                "output table is its input word table"
            )


class ElectraModel(bert.BertModel):
    """Features -> ``{sequence_output, encoder_outputs[, attention_scores]
    [, first_token_output]}`` (no pooler)."""

    architecture = "ElectraModel"
    config_class = Config

    def __init__(self, config, with_pooler=False, **kwargs):
        if with_pooler:
            raise ConfigError("with_pooler: ELECTRA has no pooler")
        super().__init__(config, with_pooler=False, **kwargs)


class _ElectraTaskModel(TaskModel):
    encoder_class = ElectraModel
    with_pooler = False


class ElectraForPreTraining(_ElectraTaskModel):
    """Replaced-token-detection logits ``rtd_logits`` [B, S] (section 2, D(x, t))."""

    architecture = "ElectraForPreTraining"

    def _heads(self, encoder, backbone):
        cfg = encoder.config
        head = ClassificationHead(
            1,
            inner_dim=cfg.hidden_size,
            activation=cfg.hidden_act,
            dropout_rate=0.0,
            initializer_range=cfg.initializer_range,
            name="discriminator_predictions",
        )
        sequence = backbone["sequence_output"]
        return (
            {"sequence_output": sequence, "rtd_logits": head(sequence)[..., 0]},
            {"rtd_head": head},
        )


class ElectraForMaskedLM(_ElectraTaskModel):
    """The generator: masked-LM logits ``mlm_logits`` [B, S, V] over the tied word table.

    The reference head always uses exact GELU, whatever ``hidden_act`` says.
    """

    architecture = "ElectraForMaskedLM"

    def _heads(self, encoder, backbone):
        cfg = encoder.config
        mlm = MaskedLMHead(
            encoder.embedding_layer,
            activation="gelu",
            layer_norm_eps=cfg.layer_norm_eps,
            initializer_range=cfg.initializer_range,
            name="mlm",
        )
        sequence = backbone["sequence_output"]
        return {"sequence_output": sequence, "mlm_logits": mlm(sequence)}, {"mlm_head": mlm}


class ElectraForSequenceClassification(_ElectraTaskModel):
    """Logits [B, num_labels] from [CLS]: dropout, Dense + GELU, dropout, Dense."""

    architecture = "ElectraForSequenceClassification"
    first_token_output = True

    def _heads(self, encoder, backbone, num_labels=2):
        cfg = encoder.config
        dropout = cfg.hidden_dropout if cfg.classifier_dropout is None else cfg.classifier_dropout
        head = ClassificationHead(
            num_labels,
            inner_dim=cfg.hidden_size,
            activation="gelu",
            dropout_rate=dropout,
            initializer_range=cfg.initializer_range,
            name="classifier",
        )
        return {"logits": head(first_token(backbone))}, {"classifier_head": head}


class ElectraForTokenClassification(bert.BertForTokenClassification):
    """Logits [B, S, num_labels]: BERT's token head (dropout + Dense), as the reference's."""

    architecture = "ElectraForTokenClassification"
    encoder_class = ElectraModel
    dropout_field = "classifier_dropout"


class ElectraForQuestionAnswering(bert.BertForQuestionAnswering):
    """Span start/end logits [B, S]: BERT's span head on the sequence output."""

    architecture = "ElectraForQuestionAnswering"
    encoder_class = ElectraModel


FAMILY = Family(
    "electra",
    Config,
    tasks={
        "backbone": ElectraModel,
        "pretraining": ElectraForPreTraining,
        "masked_lm": ElectraForMaskedLM,
        "classification": ElectraForSequenceClassification,
        "token_classification": ElectraForTokenClassification,
        "question_answering": ElectraForQuestionAnswering,
    },
    converter="tfmodels.convert.electra",
    tokenizer="wordpiece",
    packing="bert",
    objective="rtd",
)

_SHARED_TABLES = ("word_embeddings", "position_embeddings", "token_type_embeddings")


def share_embeddings(source, target):
    """Makes ``target`` (a built TransformerEmbeddings) use ``source``'s tables and LayerNorm.

    Section 3.1, "Weight sharing": the generator and the discriminator share their
    token and position embeddings -- in the reference code the whole embeddings
    scope, token types and LayerNorm included; each keeps its own E -> H projection.
    Keras attribute tracking drops ``target``'s own variables, so each shared
    weight is one variable, trained by both models.
    """
    for name in _SHARED_TABLES:
        ours, theirs = (
            None if v is None else tuple(v.shape)
            for v in (getattr(target, name), getattr(source, name))
        )
        if ours != theirs:
            raise ConfigError(
                f"cannot share {name}: shape {theirs} where the model sharing it has {ours}"
            )
    for name in _SHARED_TABLES:
        setattr(target, name, getattr(source, name))
    target.layer_norm = source.layer_norm


def from_config(config):
    """The backbone of a :class:`Config` (or its dict)."""
    return ElectraModel(config)
