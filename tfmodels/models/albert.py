"""ALBERT (Lan et al. 2020): BERT with fewer parameters, by two changes (section 3.1).

Factorized embedding parameterization: the token tables are E wide (E << H) and
one Dense projects E -> H, so the vocabulary costs V*E + E*H instead of V*H.
Cross-layer parameter sharing: the L layers reuse the blocks of
``num_hidden_groups`` groups (one group by default: every layer is the same
block); a group may hold ``inner_group_num`` different blocks applied in turn.
The third change is the sentence-order prediction objective (section 3.1,
"Inter-sentence coherence loss"), whose head is BERT's binary sentence head; only
the data differ (:mod:`tfmodels.pretraining.sentence_order`).
"""

import dataclasses

import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers import (
    ClassificationHead,
    Pooler,
    TransformerEmbeddings,
    TransformerEncoderBlock,
)
from tfmodels.layers.block_stack import stack_outputs
from tfmodels.layers.initializer import weight_initializer
from tfmodels.models import bert
from tfmodels.models.base import OptionalFeatures, TaskModel, as_config, feature_inputs
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(ModelConfig):
    """Defaults are ALBERT-base v2 (HF ``albert-base-v2``: no dropout, tanh-GELU)."""

    family = "albert"
    HF_NAMES = {
        "num_hidden_layers": "num_layers",
        "num_attention_heads": "num_heads",
        "hidden_dropout_prob": "hidden_dropout",
        "attention_probs_dropout_prob": "attention_dropout",
        "classifier_dropout_prob": "classifier_dropout",
    }

    vocab_size: int = 30000
    embedding_size: int = 128
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    num_hidden_groups: int = 1
    inner_group_num: int = 1
    hidden_act: str = "gelu_new"
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.0
    attention_dropout: float = 0.0
    classifier_dropout: float = 0.1
    initializer_range: float = 0.02

    def __post_init__(self):
        if not 1 <= self.num_hidden_groups <= self.num_layers:
            raise ConfigError(
                f"num_hidden_groups must be in 1..num_layers ({self.num_layers}), "
                f"got {self.num_hidden_groups}"
            )
        if self.inner_group_num < 1:
            raise ConfigError(f"inner_group_num must be at least 1, got {self.inner_group_num}")

    def group_of_layer(self, layer):
        """The group whose blocks compute ``layer`` (HF ``AlbertTransformer``'s rule)."""
        return int(layer / (self.num_layers / self.num_hidden_groups))


class AlbertModel(OptionalFeatures, keras.Model):
    """Features -> ``{sequence_output, pooled_output, encoder_outputs[, attention_scores]
    [, first_token_output]}`` (``first_token_output`` as in BERT's :class:`BertModel`).

    ``layer_groups[g]`` holds group g's distinct blocks and ``transformer_layers``
    all distinct blocks (``num_hidden_groups * inner_group_num``, not L);
    ``encoder_outputs`` has one entry per block application (L * inner_group_num).
    """

    architecture = "AlbertModel"
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
        init = weight_initializer(config.initializer_range)
        embeddings = TransformerEmbeddings(
            config.vocab_size,
            config.embedding_size,
            max_positions=config.max_position_embeddings,
            type_vocab_size=config.type_vocab_size,
            hidden_size=config.hidden_size,
            layer_norm_eps=config.layer_norm_eps,
            dropout_rate=config.hidden_dropout,
            initializer_range=config.initializer_range,
            name="embeddings",
        )
        # ALBERT keeps its E -> H mapping even when E == H, where the embeddings have none.
        projection = None
        if config.embedding_size == config.hidden_size:
            projection = keras.layers.Dense(
                config.hidden_size, kernel_initializer=init, name="embedding_projection"
            )
        groups = [
            [
                TransformerEncoderBlock(
                    config.num_heads,
                    config.intermediate_size,
                    activation=config.hidden_act,
                    dropout_rate=config.hidden_dropout,
                    attention_dropout_rate=config.attention_dropout,
                    layer_norm_eps=config.layer_norm_eps,
                    initializer_range=config.initializer_range,
                    name=f"group_{g}_block_{j}",
                )
                for j in range(config.inner_group_num)
            ]
            for g in range(config.num_hidden_groups)
        ]
        pooler = (
            Pooler(config.hidden_size, initializer_range=config.initializer_range, name="pooler")
            if with_pooler
            else None
        )

        x = embeddings(inputs["input_ids"], inputs["segment_ids"])
        if projection is not None:
            x = projection(x)
        applications = [  # the same weights each time a group repeats
            block
            for layer in range(config.num_layers)
            for block in groups[config.group_of_layer(layer)]
        ]
        outputs = stack_outputs(
            applications,
            x,
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
        self.embedding_projection = projection
        self.layer_groups = groups
        self.transformer_layers = [block for group in groups for block in group]
        self.pooler_layer = pooler

    get_config = bert.BertModel.get_config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class _AlbertTaskModel(TaskModel):
    """BERT's task-model pattern over :class:`AlbertModel`."""

    encoder_class = AlbertModel


class AlbertForPreTraining(bert.BertForPreTraining):
    """Masked-LM logits [B, S, V] (table tied, H -> E -> V) and sentence-order logits [B, 2]:
    the SOP head is BERT's NSP head; only the data differ (section 3.1)."""

    architecture = "AlbertForPreTraining"
    encoder_class = AlbertModel


class AlbertForMaskedLM(bert.BertForMaskedLM):
    """Masked-LM logits only."""

    architecture = "AlbertForMaskedLM"
    encoder_class = AlbertModel


class AlbertForSequenceClassification(_AlbertTaskModel):
    """Logits [B, num_labels] from the pooled [CLS] vector, after ``classifier_dropout``.

    ALBERT v2 trains without hidden dropout but fine-tunes with dropout on the
    pooled vector (``classifier_dropout_prob``), so that rate is its own field.
    """

    architecture = "AlbertForSequenceClassification"
    first_token_output = True

    def _heads(self, encoder, backbone, num_labels=2):
        head = ClassificationHead(
            num_labels,
            dropout_rate=encoder.config.classifier_dropout,
            initializer_range=encoder.config.initializer_range,
            name="classifier",
        )
        return {"logits": head(backbone["pooled_output"])}, {"classifier_head": head}


class AlbertForTokenClassification(bert.BertForTokenClassification):
    """Logits [B, S, num_labels]: BERT's token head, after ``classifier_dropout``."""

    architecture = "AlbertForTokenClassification"
    encoder_class = AlbertModel
    dropout_field = "classifier_dropout"


class AlbertForQuestionAnswering(bert.BertForQuestionAnswering):
    """Span start/end logits [B, S]; no pooler, as in the reference."""

    architecture = "AlbertForQuestionAnswering"
    encoder_class = AlbertModel


FAMILY = Family(
    "albert",
    Config,
    tasks={
        "backbone": AlbertModel,
        "pretraining": AlbertForPreTraining,
        "masked_lm": AlbertForMaskedLM,
        "classification": AlbertForSequenceClassification,
        "token_classification": AlbertForTokenClassification,
        "question_answering": AlbertForQuestionAnswering,
    },
    converter="tfmodels.convert.albert",
    tokenizer="sentencepiece",
    packing="bert",
    objective="mlm_sop",
)


def from_config(config):
    """The backbone of a :class:`Config` (or its dict)."""
    return AlbertModel(config)
