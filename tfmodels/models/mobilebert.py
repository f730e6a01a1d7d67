"""MobileBERT (Sun et al. 2020): a thin, deep BERT built from bottleneck blocks.

Section 3 of the paper in code: a 128-wide word table with a trigram
convolution to the 512-wide features, 24 bottleneck blocks (128 inside, four
stacked FFNs, queries and keys from one shared bottleneck, NoNorm and ReLU),
a tanh pooler on [CLS]; pre-training heads for masked LM (table widened to
512) and next-sentence prediction; a classifier on the pooled vector. The
IB-BERT teacher (section 3.1, inverted bottleneck: 512 between blocks, 1024
inside, one FFN, LayerNorm, GELU) is a configuration of the same network
(``tfmodels/configs/models/ibbert_teacher.yaml``).
"""

import dataclasses
from typing import Optional

import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers import (
    BottleneckEncoderBlock,
    ClassificationHead,
    ExtendedMaskedLMHead,
    Pooler,
    TrigramEmbeddings,
)
from tfmodels.layers.block_stack import stack_outputs
from tfmodels.layers.no_norm import NORMALIZATIONS
from tfmodels.models import bert
from tfmodels.models.base import OptionalFeatures, TaskModel, as_config, feature_inputs
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(ModelConfig):
    """Defaults are HF ``MobileBertConfig``'s, i.e. google/mobilebert-uncased."""

    family = "mobilebert"
    HF_NAMES = {
        "num_hidden_layers": "num_layers",
        "num_attention_heads": "num_heads",
        "hidden_dropout_prob": "hidden_dropout",
        "attention_probs_dropout_prob": "attention_dropout",
    }

    vocab_size: int = 30522
    hidden_size: int = 512  # between blocks
    num_layers: int = 24
    num_heads: int = 4
    intermediate_size: int = 512
    hidden_act: str = "relu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.0
    attention_dropout: float = 0.1
    initializer_range: float = 0.02
    embedding_size: int = 128
    trigram_input: bool = True
    use_bottleneck: bool = True
    intra_bottleneck_size: int = 128  # inside a block
    use_bottleneck_attention: bool = False
    key_query_shared_bottleneck: bool = True
    num_feedforward_networks: int = 4
    normalization_type: str = "no_norm"
    classifier_activation: bool = True  # tanh pooler; False: [CLS] vector as is
    classifier_dropout: Optional[float] = None  # None: hidden_dropout

    def __post_init__(self):
        if self.normalization_type not in NORMALIZATIONS:
            raise ConfigError(
                f"normalization_type {self.normalization_type!r} is not one of "
                f"{', '.join(NORMALIZATIONS)}"
            )
        width, inner = (
            ("intra_bottleneck_size", self.intra_bottleneck_size)
            if self.use_bottleneck
            else ("hidden_size", self.hidden_size)
        )
        if inner % self.num_heads:
            raise ConfigError(
                f"{width} {inner} is not divisible by num_attention_heads {self.num_heads}"
            )
        if self.num_feedforward_networks < 1:
            raise ConfigError(
                f"num_feedforward_networks must be >= 1, got {self.num_feedforward_networks}"
            )


class MobileBertModel(OptionalFeatures, keras.Model):
    """Features -> ``{sequence_output, pooled_output, encoder_outputs[, attention_scores]}``."""

    architecture = "MobileBertModel"
    config_class = Config

    def __init__(self, config, output_attention_scores=False, with_pooler=True, **kwargs):
        config = as_config(self, config)
        inputs = feature_inputs()
        embeddings = TrigramEmbeddings(
            config.vocab_size,
            config.embedding_size,
            config.hidden_size,
            max_positions=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            trigram=config.trigram_input,
            normalization_type=config.normalization_type,  # eps: the layer's HF default
            dropout_rate=config.hidden_dropout,
            initializer_range=config.initializer_range,
            name="embeddings",
        )
        blocks = [
            BottleneckEncoderBlock(
                config.num_heads,
                config.intra_bottleneck_size,
                config.intermediate_size,
                num_ffn=config.num_feedforward_networks,
                activation=config.hidden_act,
                normalization_type=config.normalization_type,
                use_bottleneck=config.use_bottleneck,
                key_query_shared_bottleneck=config.key_query_shared_bottleneck,
                use_bottleneck_attention=config.use_bottleneck_attention,
                dropout_rate=config.hidden_dropout,
                attention_dropout_rate=config.attention_dropout,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                name=f"layer_{i}",
            )
            for i in range(config.num_layers)
        ]
        pooler = None
        if with_pooler and config.classifier_activation:
            pooler = Pooler(
                config.hidden_size, initializer_range=config.initializer_range, name="pooler"
            )

        x = embeddings(inputs["input_ids"], inputs["segment_ids"])
        # The bottleneck blocks take no key_value: no first-token-only last block here.
        outputs = stack_outputs(
            blocks, x, inputs["input_mask"], attention_scores=output_attention_scores
        )
        if with_pooler:
            x = outputs["sequence_output"]
            outputs["pooled_output"] = pooler(x) if pooler is not None else x[:, 0, :]
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.config = config
        self.output_attention_scores = output_attention_scores
        self.with_pooler = with_pooler
        self.embedding_layer = embeddings
        self.transformer_layers = blocks
        self.pooler_layer = pooler

    def get_config(self):
        return {
            "config": self.config.to_dict(),
            "name": self.name,
            "output_attention_scores": self.output_attention_scores,
            "with_pooler": self.with_pooler,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class _TaskModel(TaskModel):
    """BERT's task-model pattern over :class:`MobileBertModel`."""

    encoder_class = MobileBertModel


class MobileBertForPreTraining(bert.BertForPreTraining):
    """Masked-LM logits [B, S, V] (the widened tied table) and next-sentence logits [B, 2]."""

    architecture = "MobileBertForPreTraining"
    encoder_class = MobileBertModel
    mlm_head_class = ExtendedMaskedLMHead


class MobileBertForMaskedLM(bert.BertForMaskedLM):
    """Masked-LM logits only; no pooler, as in the reference MobileBertForMaskedLM."""

    architecture = "MobileBertForMaskedLM"
    encoder_class = MobileBertModel
    mlm_head_class = ExtendedMaskedLMHead


class MobileBertForSequenceClassification(_TaskModel):
    """Logits [B, num_labels] from the pooled [CLS] vector; ``num_labels=1`` regresses."""

    architecture = "MobileBertForSequenceClassification"

    def _heads(self, encoder, backbone, num_labels=2):
        cfg = encoder.config
        dropout = cfg.hidden_dropout if cfg.classifier_dropout is None else cfg.classifier_dropout
        head = ClassificationHead(
            num_labels,
            dropout_rate=dropout,
            initializer_range=cfg.initializer_range,
            name="classifier",
        )
        return {"logits": head(backbone["pooled_output"])}, {"classifier_head": head}


class MobileBertForTokenClassification(bert.BertForTokenClassification):
    """Logits [B, S, num_labels]: BERT's token head; no pooler, as the reference."""

    architecture = "MobileBertForTokenClassification"
    encoder_class = MobileBertModel
    dropout_field = "classifier_dropout"


class MobileBertForQuestionAnswering(bert.BertForQuestionAnswering):
    """Span start/end logits [B, S]; no pooler, as in the reference."""

    architecture = "MobileBertForQuestionAnswering"
    encoder_class = MobileBertModel


FAMILY = Family(
    "mobilebert",
    Config,
    tasks={
        "backbone": MobileBertModel,
        "pretraining": MobileBertForPreTraining,
        "masked_lm": MobileBertForMaskedLM,
        "classification": MobileBertForSequenceClassification,
        "token_classification": MobileBertForTokenClassification,
        "question_answering": MobileBertForQuestionAnswering,
    },
    converter="tfmodels.convert.mobilebert",
    tokenizer="wordpiece",
    packing="bert",
    objective="mlm_nsp",
)
