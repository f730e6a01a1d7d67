"""BERT (Devlin et al. 2019): a stack of post-LN Transformer encoder blocks.

Section 3 of the paper in code: token + position + segment embeddings, L encoder
blocks, a tanh pooler on [CLS]; pre-training heads for masked LM and next-sentence
prediction (section 3.1); a classifier on the pooled vector (section 4.1).
RoBERTa, DistilBERT, TinyBERT, MiniLM and SpanBERT share this network and differ
in configuration and training objective.
"""

import dataclasses
from typing import Dict, List, Optional

import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers import (
    ClassificationHead,
    MaskedLMHead,
    Pooler,
    TransformerEmbeddings,
    TransformerEncoderBlock,
)
from tfmodels.layers.block_stack import stack_outputs
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.span_head import SpanHead
from tfmodels.models.base import OptionalFeatures, TaskModel, as_config, feature_inputs
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(ModelConfig):
    family = "bert"
    HF_NAMES = {
        "num_hidden_layers": "num_layers",
        "num_attention_heads": "num_heads",
        "hidden_dropout_prob": "hidden_dropout",
        "attention_probs_dropout_prob": "attention_dropout",
    }

    vocab_size: int = 30522
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    initializer_range: float = 0.02
    embedding_size: Optional[int] = None  # None: same as hidden_size (no factorization)
    # Attention heads removed by head pruning (Michel et al. 2019), {layer: [head indexes]}
    # in the original numbering, as HF's ``BertConfig.pruned_heads``: those layers are
    # built with fewer heads of the same size.
    pruned_heads: Dict[int, List[int]] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.pruned_heads = normalize_pruned_heads(
            self.pruned_heads, self.num_layers, self.num_heads
        )

    def kept_heads(self, layer):
        """Original indexes of the heads that ``layer`` still has."""
        removed = set(self.pruned_heads.get(layer, ()))
        return [h for h in range(self.num_heads) if h not in removed]

    def to_hf(self):
        hf = super().to_hf()
        hf.pop("pruned_heads")  # HF writes JSON keys as strings; left out when empty
        if self.pruned_heads:
            hf["pruned_heads"] = {str(k): v for k, v in self.pruned_heads.items()}
        return hf


def normalize_pruned_heads(pruned_heads, num_layers, num_heads, source="pruned_heads"):
    """``{int layer: sorted unique head indexes}`` from a dict whose keys may be
    strings (JSON); a layer or head that does not exist, or a layer left without
    heads, is a ConfigError."""
    if not isinstance(pruned_heads, dict):
        raise ConfigError(
            f"{source} must be a mapping {{layer: [head indexes]}}, got {pruned_heads!r}"
        )
    result = {}
    for key, heads in pruned_heads.items():
        try:
            layer = int(key)
        except (TypeError, ValueError):
            raise ConfigError(f"{source}: layer {key!r} is not an integer") from None
        if not 0 <= layer < num_layers:
            raise ConfigError(f"{source}: layer {layer} does not exist (num_layers={num_layers})")
        if not isinstance(heads, (list, tuple, set)) or not all(
            isinstance(h, int) and not isinstance(h, bool) for h in heads
        ):
            raise ConfigError(
                f"{source}: layer {layer} needs a list of head indexes, got {heads!r}"
            )
        bad = sorted(h for h in heads if not 0 <= h < num_heads)
        if bad:
            raise ConfigError(
                f"{source}: layer {layer} has no head {bad[0]} (num_heads={num_heads})"
            )
        heads = sorted(set(heads))
        if len(heads) == num_heads:
            raise ConfigError(
                f"{source}: removing all {num_heads} heads of layer {layer} "
                "is not supported; keep at least one"
            )
        if heads:
            result[layer] = heads
    return dict(sorted(result.items()))


class BertModel(OptionalFeatures, keras.Model):
    """Features -> ``{sequence_output, pooled_output, encoder_outputs[, attention_scores]
    [, first_token_output]}``.

    ``first_token_output=True`` (a classifier's backbone) adds the last block's output at
    the first token [B, H], computed for that row alone
    (:func:`tfmodels.layers.block_stack.stack_outputs`), and pools from it.
    """

    architecture = "BertModel"
    config_class = Config

    def __init__(
        self,
        config,
        output_attention_scores=False,
        with_pooler=True,
        first_token_output=False,
        **kwargs,
    ):
        config = as_config(self, config)
        inputs = feature_inputs()
        embeddings = TransformerEmbeddings(
            config.vocab_size,
            config.embedding_size or config.hidden_size,
            max_positions=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            hidden_size=config.hidden_size,
            layer_norm_eps=config.layer_norm_eps,
            dropout_rate=config.hidden_dropout,
            initializer_range=config.initializer_range,
            position_offset=getattr(config, "position_offset", 0),
            name="embeddings",
        )
        blocks = [
            TransformerEncoderBlock(
                len(config.kept_heads(i)),
                config.intermediate_size,
                activation=config.hidden_act,
                dropout_rate=config.hidden_dropout,
                attention_dropout_rate=config.attention_dropout,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                head_size=config.hidden_size // config.num_heads if config.pruned_heads else None,
                name=f"layer_{i}",
            )
            for i in range(config.num_layers)
        ]
        pooler = (
            Pooler(config.hidden_size, initializer_range=config.initializer_range, name="pooler")
            if with_pooler
            else None
        )

        outputs = stack_outputs(
            blocks,
            embeddings(inputs["input_ids"], inputs["segment_ids"]),
            inputs["input_mask"],
            first_token_output,
            pooler,
            output_attention_scores,
        )
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.config = config
        self.output_attention_scores = output_attention_scores
        self.with_pooler = with_pooler
        self.first_token_output = first_token_output
        self.embedding_layer = embeddings
        self.transformer_layers = blocks
        self.pooler_layer = pooler

    def get_config(self):
        config = {
            "config": self.config.to_dict(),
            "name": self.name,
            "output_attention_scores": self.output_attention_scores,
            "with_pooler": self.with_pooler,
        }
        if self.first_token_output:  # only when set: older saved configs stay as they were
            config["first_token_output"] = True
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


def masked_lm_head(encoder, head_class=MaskedLMHead):
    """The MLM head tied to ``encoder``'s word embeddings (``head_class``: BERT's, or
    MobileBERT's widened one)."""
    cfg = encoder.config
    return head_class(
        encoder.embedding_layer,
        activation=cfg.hidden_act,
        layer_norm_eps=cfg.layer_norm_eps,
        initializer_range=cfg.initializer_range,
        name="mlm",
    )


class BertForPreTraining(TaskModel):
    """Masked-LM logits [B, S, V] and next-sentence logits [B, 2] (section 3.1)."""

    architecture = "BertForPreTraining"
    encoder_class = BertModel
    mlm_head_class = MaskedLMHead

    def _heads(self, encoder, backbone):
        mlm = masked_lm_head(encoder, self.mlm_head_class)
        sentence = keras.layers.Dense(
            2,
            kernel_initializer=weight_initializer(encoder.config.initializer_range),
            name="next_sentence",
        )
        return (
            {
                "sequence_output": backbone["sequence_output"],
                "pooled_output": backbone["pooled_output"],
                "mlm_logits": mlm(backbone["sequence_output"]),
                "sentence_logits": sentence(backbone["pooled_output"]),
            },
            {"mlm_head": mlm, "sentence_head": sentence},
        )


class BertForMaskedLM(TaskModel):
    """Masked-LM logits only (no next-sentence head), as RoBERTa-style training uses."""

    architecture = "BertForMaskedLM"
    encoder_class = BertModel
    mlm_head_class = MaskedLMHead
    with_pooler = False  # as in the reference BertForMaskedLM

    def _heads(self, encoder, backbone):
        mlm = masked_lm_head(encoder, self.mlm_head_class)
        return (
            {
                "sequence_output": backbone["sequence_output"],
                "mlm_logits": mlm(backbone["sequence_output"]),
            },
            {"mlm_head": mlm},
        )


class BertForSequenceClassification(TaskModel):
    """Logits [B, num_labels] from the pooled [CLS] vector; ``num_labels=1`` regresses."""

    architecture = "BertForSequenceClassification"
    encoder_class = BertModel
    first_token_output = True

    def _heads(self, encoder, backbone, num_labels=2):
        head = ClassificationHead(
            num_labels,
            dropout_rate=encoder.config.hidden_dropout,
            initializer_range=encoder.config.initializer_range,
            name="classifier",
        )
        return {"logits": head(backbone["pooled_output"])}, {"classifier_head": head}


class BertForTokenClassification(TaskModel):
    """Logits [B, S, num_labels] for every token: dropout + Dense on the final hidden
    states (section 4.3, NER). Every family's ``...ForTokenClassification`` reuses
    ``_heads``; ``dropout_field`` names the Config field of its dropout rate (None or
    missing: ``hidden_dropout``)."""

    architecture = "BertForTokenClassification"
    encoder_class = BertModel
    with_pooler = False  # as in the reference: no pooler weights in its checkpoints
    dropout_field = "classifier_dropout"

    def _heads(self, encoder, backbone, num_labels=2):
        cfg = encoder.config
        dropout = getattr(cfg, self.dropout_field, None)
        head = ClassificationHead(
            num_labels,
            dropout_rate=cfg.hidden_dropout if dropout is None else dropout,
            initializer_range=cfg.initializer_range,
            name="classifier",
        )
        return {"logits": head(backbone["sequence_output"])}, {"token_head": head}


def span_outputs(encoder, backbone, dropout_rate=0.0):
    """``start_logits``/``end_logits`` [B, S] of a :class:`SpanHead` on the sequence output,
    for every family's ``...ForQuestionAnswering``."""
    head = SpanHead(dropout_rate, initializer_range=encoder.config.initializer_range, name="qa")
    start, end = head(backbone["sequence_output"])
    return {"start_logits": start, "end_logits": end}, {"qa_head": head}


class BertForQuestionAnswering(TaskModel):
    """Span start/end logits [B, S] (section 4.2, SQuAD); no pooler, as in the reference."""

    architecture = "BertForQuestionAnswering"
    encoder_class = BertModel
    with_pooler = False

    def _heads(self, encoder, backbone):
        return span_outputs(encoder, backbone)


FAMILY = Family(
    "bert",
    Config,
    tasks={
        "backbone": BertModel,
        "pretraining": BertForPreTraining,
        "masked_lm": BertForMaskedLM,
        "classification": BertForSequenceClassification,
        "question_answering": BertForQuestionAnswering,
        "token_classification": BertForTokenClassification,
    },
    converter="tfmodels.convert.bert",
    tokenizer="wordpiece",
    packing="bert",
    objective="mlm_nsp",
)
