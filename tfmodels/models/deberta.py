"""DeBERTa-v2 and DeBERTaV3 (He et al. 2021; He et al. 2023): BERT with disentangled attention.

Section 3 of the DeBERTa paper in code: token embeddings (absolute positions in
the input only where ``position_biased_input``), L post-LN blocks whose attention
adds content->position and position->content terms over relative distances
(section 3.1; :mod:`tfmodels.layers.disentangled_attention`) from one relative
table shared by all layers (log-bucketed, layer-normalized in v2/v3), and for
masked-LM pre-training the enhanced mask decoder (section 3.2) that brings in
absolute positions just before the output softmax. No pooler: the classifier is
HF's ContextPooler (Dense + activation on [CLS]) and a Dense. DeBERTaV3 keeps this
network and pre-trains it ELECTRA-style with gradient-disentangled embedding
sharing (:mod:`tfmodels.pretraining.gdes`). Family name ``deberta-v2`` is HF's
``model_type`` for both v2 and v3 checkpoints.
"""

import dataclasses
from typing import List, Optional

import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers import ClassificationHead, TransformerEmbeddings
from tfmodels.layers.block_stack import stack_outputs
from tfmodels.layers.disentangled_attention import POSITION_TERMS, DisentangledEncoderBlock
from tfmodels.layers.enhanced_mask_decoder import EnhancedMaskDecoder
from tfmodels.layers.padding import ZeroPaddingPositions
from tfmodels.layers.relative_positions import RelativeEmbeddings
from tfmodels.models import bert
from tfmodels.models.base import OptionalFeatures, TaskModel, as_config, feature_inputs, first_token
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(ModelConfig):
    """Defaults are HF ``DebertaV2Config``'s (HF omits defaults from config.json);
    tfmodels/configs/models/deberta_v3_base.yaml is DeBERTaV3-base."""

    family = "deberta-v2"
    HF_NAMES = bert.Config.HF_NAMES

    vocab_size: int = 128100
    hidden_size: int = 1536
    num_layers: int = 24
    num_heads: int = 24
    intermediate_size: int = 6144
    hidden_act: str = "gelu"
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 0
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-7
    relative_attention: bool = False
    max_relative_positions: int = -1  # < 1: max_position_embeddings
    position_buckets: int = -1  # > 0: log buckets, this many rows each side
    position_biased_input: bool = True  # absolute positions added to the input
    pos_att_type: List[str] = dataclasses.field(default_factory=list)
    share_att_key: bool = False
    norm_rel_ebd: str = "none"  # "layer_norm": LayerNorm on the relative table
    pooler_dropout: float = 0.0
    pooler_hidden_act: str = "gelu"
    cls_dropout: Optional[float] = None  # None: hidden_dropout
    legacy: bool = True  # HF masked-LM head layout: cls.predictions.* (True), lm_predictions.*
    conv_kernel_size: int = 0
    embedding_size: Optional[int] = None

    def __post_init__(self):
        if isinstance(self.pos_att_type, str):
            self.pos_att_type = [t.strip() for t in self.pos_att_type.lower().split("|") if t]
        unknown = [t for t in self.pos_att_type if t not in POSITION_TERMS]
        if unknown:
            raise ConfigError(
                f"pos_att_type {unknown[0]!r} is not one of {', '.join(POSITION_TERMS)}"
            )
        if self.conv_kernel_size > 0:
            raise ConfigError(
                "conv_kernel_size > 0 (DeBERTa-v2 xlarge's ConvLayer) is not supported"
            )
        if self.embedding_size not in (None, self.hidden_size):
            raise ConfigError(
                f"embedding_size {self.embedding_size} != hidden_size "
                f"{self.hidden_size} is not supported"
            )
        if self.norm_rel_ebd.lower() not in ("none", "layer_norm"):
            raise ConfigError(f"norm_rel_ebd {self.norm_rel_ebd!r} is not 'none' or 'layer_norm'")
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"hidden_size {self.hidden_size} is not divisible by "
                f"num_attention_heads {self.num_heads}"
            )

    @classmethod
    def from_hf(cls, hf_config, source="config.json"):
        pooler = hf_config.get("pooler_hidden_size", hf_config.get("hidden_size"))
        if pooler != hf_config.get("hidden_size"):
            raise ConfigError(
                f"{source}: pooler_hidden_size {pooler} != hidden_size is not supported"
            )
        hf_config = dict(hf_config)
        if isinstance(hf_config.get("pos_att_type"), str) or hf_config.get("pos_att_type") is None:
            value = hf_config.pop("pos_att_type", None) or ""
            hf_config["pos_att_type"] = [t.strip() for t in value.lower().split("|") if t.strip()]
        return super().from_hf(hf_config, source)

    @property
    def max_relative(self):
        """The distance the relative positions reach (HF ``max_relative_positions``)."""
        return (
            self.max_relative_positions
            if self.max_relative_positions >= 1
            else self.max_position_embeddings
        )

    @property
    def span(self):
        """Relative table rows each side: the buckets, or the maximum distance."""
        if not self.relative_attention:
            return 0
        return self.position_buckets if self.position_buckets > 0 else self.max_relative


class DebertaV2Model(OptionalFeatures, keras.Model):
    """Features -> ``{sequence_output, encoder_outputs[, attention_scores]
    [, first_token_output]}`` (no pooler; ``first_token_output`` as in BERT's
    :class:`BertModel`).

    ``embedding_layer`` replaces the token embeddings (GDES gives the discriminator
    its gradient-disentangled table). Subclasses with ``with_decoder = True`` also
    run the enhanced mask decoder and return its states as ``decoder_output``.
    """

    architecture = "DebertaV2Model"
    config_class = Config
    with_decoder = False

    def __init__(
        self,
        config,
        output_attention_scores=False,
        with_pooler=False,
        embedding_layer=None,
        first_token_output=False,
        **kwargs,
    ):
        if with_pooler:
            raise ConfigError("with_pooler: DeBERTa has no pooler")
        config = as_config(self, config)
        inputs = feature_inputs()
        embeddings = embedding_layer or TransformerEmbeddings(
            config.vocab_size,
            config.hidden_size,
            max_positions=config.max_position_embeddings if config.position_biased_input else 0,
            type_vocab_size=config.type_vocab_size,
            layer_norm_eps=config.layer_norm_eps,
            dropout_rate=config.hidden_dropout,
            initializer_range=config.initializer_range,
            name="embeddings",
        )
        relative = None
        if config.relative_attention:
            relative = RelativeEmbeddings(
                config.span,
                config.hidden_size,
                layer_norm=config.norm_rel_ebd.lower() == "layer_norm",
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                name="relative_embeddings",
            )
        blocks = [
            DisentangledEncoderBlock(
                config.num_heads,
                config.intermediate_size,
                pos_att_type=config.pos_att_type,
                share_att_key=config.share_att_key,
                span=config.span,
                position_buckets=config.position_buckets,
                max_relative_positions=config.max_relative,
                activation=config.hidden_act,
                dropout_rate=config.hidden_dropout,
                attention_dropout_rate=config.attention_dropout,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                name=f"layer_{i}",
            )
            for i in range(config.num_layers)
        ]

        mask = inputs["input_mask"]
        x = embeddings(inputs["input_ids"], inputs["segment_ids"])
        x = ZeroPaddingPositions(name="zero_padding")(x, mask)  # padding rows are zero, as in HF
        table = relative(x) if relative is not None else None
        outputs = stack_outputs(
            blocks,
            x,
            mask,
            first_token_output,
            attention_scores=output_attention_scores,
            relative_embeddings=table,
        )
        decoder = None
        if self.with_decoder:
            decoder = EnhancedMaskDecoder(
                blocks[-1],
                config.max_position_embeddings,
                initializer_range=config.initializer_range,
                name="enhanced_mask_decoder",
            )
            outputs["decoder_output"] = decoder(  # on the last block's input (L >= 2)
                outputs["encoder_outputs"][-2], attention_mask=mask, relative_embeddings=table
            )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.config = config
        self.output_attention_scores = output_attention_scores
        self.with_pooler = False
        self.first_token_output = first_token_output
        self.embedding_layer = embeddings
        self.relative_embeddings = relative
        self.transformer_layers = blocks
        self.decoder_layer = decoder
        self.pooler_layer = None

    get_config = bert.BertModel.get_config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class DecoderEncoder(DebertaV2Model):
    """The encoder plus the enhanced mask decoder (``decoder_output``), for MLM pre-training.

    The original code (``EnhancedMaskDecoder``) decodes with EMD only when the input
    carries no absolute positions; with ``position_biased_input`` it is not built.
    """

    def __init__(self, config, **kwargs):
        config = as_config(self, config)
        self.with_decoder = not config.position_biased_input  # read by DebertaV2Model
        super().__init__(config, **kwargs)


class _DebertaTaskModel(TaskModel):
    encoder_class = DebertaV2Model
    with_pooler = False


class DebertaV2ForMaskedLM(_DebertaTaskModel):
    """Masked-LM logits ``mlm_logits`` [B, S, V] from the last layer (HF DebertaV2ForMaskedLM)."""

    architecture = "DebertaV2ForMaskedLM"

    def _heads(self, encoder, backbone):
        mlm = bert.masked_lm_head(encoder)  # HF's both layouts: Dense+act+LN, tied table
        sequence = backbone["sequence_output"]
        return {"sequence_output": sequence, "mlm_logits": mlm(sequence)}, {"mlm_head": mlm}


class DebertaV2ForPreTraining(_DebertaTaskModel):
    """Masked-LM logits through the enhanced mask decoder (section 3.2): our MLM pre-training.

    Outputs ``sequence_output``, ``decoder_output`` (the EMD states, or the
    sequence output where the input has absolute positions) and ``mlm_logits``.
    """

    architecture = "DebertaV2ForPreTraining"
    encoder_class = DecoderEncoder

    def __init__(self, config, name=None, **kwargs):
        config = as_config(self.encoder_class, config)
        if not config.position_biased_input and config.num_layers < 2:
            raise ConfigError("the enhanced mask decoder needs num_layers >= 2")
        super().__init__(config, name=name, **kwargs)

    def _heads(self, encoder, backbone):
        mlm = bert.masked_lm_head(encoder)  # HF's both layouts: Dense+act+LN, tied table
        decoded = backbone.get("decoder_output", backbone["sequence_output"])
        return (
            {
                "sequence_output": backbone["sequence_output"],
                "decoder_output": decoded,
                "mlm_logits": mlm(decoded),
            },
            {"mlm_head": mlm},
        )


class DebertaV2ForSequenceClassification(_DebertaTaskModel):
    """Logits [B, num_labels]: HF ContextPooler (Dense + ``pooler_hidden_act`` on [CLS])
    and a Dense, with ``cls_dropout`` (default ``hidden_dropout``) before each."""

    architecture = "DebertaV2ForSequenceClassification"
    first_token_output = True

    def _heads(self, encoder, backbone, num_labels=2):
        cfg = encoder.config
        dropout = cfg.hidden_dropout if cfg.cls_dropout is None else cfg.cls_dropout
        head = ClassificationHead(
            num_labels,
            inner_dim=cfg.hidden_size,
            activation=cfg.pooler_hidden_act,
            dropout_rate=dropout,
            initializer_range=cfg.initializer_range,
            name="classifier",
        )
        return {"logits": head(first_token(backbone))}, {"classifier_head": head}


class DebertaV2ForTokenClassification(bert.BertForTokenClassification):
    """Logits [B, S, num_labels]: BERT's token head with ``hidden_dropout``, as the reference."""

    architecture = "DebertaV2ForTokenClassification"
    encoder_class = DebertaV2Model
    dropout_field = "hidden_dropout"


class DebertaV2ForQuestionAnswering(bert.BertForQuestionAnswering):
    """Span start/end logits [B, S]: BERT's span head on the sequence output."""

    architecture = "DebertaV2ForQuestionAnswering"
    encoder_class = DebertaV2Model


FAMILY = Family(
    "deberta-v2",
    Config,
    tasks={
        "backbone": DebertaV2Model,
        "pretraining": DebertaV2ForPreTraining,
        "masked_lm": DebertaV2ForMaskedLM,
        "classification": DebertaV2ForSequenceClassification,
        "token_classification": DebertaV2ForTokenClassification,
        "question_answering": DebertaV2ForQuestionAnswering,
    },
    converter="tfmodels.convert.deberta",
    tokenizer="deberta_sentencepiece",
    packing="bert",
    objective="rtd_gdes",
)


def from_config(config):
    """The backbone of a :class:`Config` (or its dict)."""
    return DebertaV2Model(config)
