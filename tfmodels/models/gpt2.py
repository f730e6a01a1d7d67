"""GPT-2 (Radford et al. 2019): a decoder-only Transformer language model.

Section 2.3 of the paper in code: GPT-1's decoder (token + learned position
embeddings, masked self-attention blocks) with the LayerNorm moved to the input of
each sub-block (pre-LN), a final LayerNorm after the last block, and the output
projection tied to the token table. The blocks are our shared
:class:`TransformerEncoderBlock` with ``norm_first=True, causal=True``; each
position attends to itself and earlier positions only, and ``input_mask`` (padding
on the right) removes padding keys on top of that. GPT-2 has no token types:
``segment_ids`` may be passed (every family takes the same features) and is ignored.
"""

import dataclasses
from typing import Optional

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.generation import IncrementalDecoding
from tfmodels.layers import TransformerEmbeddings, TransformerEncoderBlock
from tfmodels.models.base import OptionalFeatures, TaskModel, as_config, feature_inputs
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(ModelConfig):
    """Defaults are HF ``GPT2Config``'s, i.e. the 124M ``gpt2`` checkpoint."""

    family = "gpt2"
    HF_NAMES = {
        "n_embd": "hidden_size",
        "n_layer": "num_layers",
        "n_head": "num_heads",
        "n_positions": "max_position_embeddings",
        "n_inner": "intermediate_size",
        "activation_function": "hidden_act",
        "layer_norm_epsilon": "layer_norm_eps",
        "resid_pdrop": "hidden_dropout",
        "attn_pdrop": "attention_dropout",
        "embd_pdrop": "embedding_dropout",
    }

    vocab_size: int = 50257
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: Optional[int] = None  # None: 4 * hidden_size (section 2.3 of GPT-1)
    hidden_act: str = "gelu_new"
    max_position_embeddings: int = 1024
    layer_norm_eps: float = 1e-5
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    embedding_dropout: float = 0.1
    initializer_range: float = 0.02
    # Variants of HF's GPT-2 code that this network does not implement; kept so that a
    # checkpoint using one is refused instead of silently computing something else.
    scale_attn_weights: bool = True
    scale_attn_by_inverse_layer_idx: bool = False
    add_cross_attention: bool = False
    tie_word_embeddings: bool = True

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"n_embd ({self.hidden_size}) must be a multiple of n_head ({self.num_heads})"
            )
        unsupported = {
            "scale_attn_weights": not self.scale_attn_weights,
            "scale_attn_by_inverse_layer_idx": self.scale_attn_by_inverse_layer_idx,
            "add_cross_attention": self.add_cross_attention,
            "tie_word_embeddings": not self.tie_word_embeddings,
        }
        self.refuse(unsupported, "tfmodels' GPT-2")

    @property
    def inner_size(self):
        return self.intermediate_size or 4 * self.hidden_size


class GPT2Model(OptionalFeatures, keras.Model):
    """Features -> ``{sequence_output, encoder_outputs}``.

    ``sequence_output`` [B, S, H] is after the final LayerNorm (``ln_f``);
    ``encoder_outputs`` are the blocks' outputs, before it.
    """

    architecture = "GPT2Model"
    config_class = Config

    def __init__(self, config, with_pooler=False, **kwargs):
        config = as_config(self, config)
        if with_pooler:
            raise ConfigError("GPT-2 has no pooler (with_pooler must be False)")
        inputs = feature_inputs()
        embeddings = TransformerEmbeddings(
            config.vocab_size,
            config.hidden_size,
            max_positions=config.max_position_embeddings,
            type_vocab_size=0,
            layer_norm=False,
            dropout_rate=config.embedding_dropout,
            initializer_range=config.initializer_range,
            name="embeddings",
        )
        blocks = [
            TransformerEncoderBlock(
                config.num_heads,
                config.inner_size,
                activation=config.hidden_act,
                dropout_rate=config.hidden_dropout,
                attention_dropout_rate=config.attention_dropout,
                layer_norm_eps=config.layer_norm_eps,
                norm_first=True,
                causal=True,
                initializer_range=config.initializer_range,
                name=f"layer_{i}",
            )
            for i in range(config.num_layers)
        ]
        final_norm = keras.layers.LayerNormalization(
            epsilon=config.layer_norm_eps, name="final_layer_norm", dtype=tf.float32
        )

        x = embeddings(inputs["input_ids"])
        encoder_outputs = []
        for block in blocks:
            x = block(x, attention_mask=inputs["input_mask"])
            encoder_outputs.append(x)
        outputs = {"sequence_output": final_norm(x), "encoder_outputs": encoder_outputs}
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.config = config
        self.with_pooler = False
        self.embedding_layer = embeddings
        self.transformer_layers = blocks
        self.final_layer_norm = final_norm
        self.pooler_layer = None

    def get_config(self):
        return {"config": self.config.to_dict(), "name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class TiedLMHead(keras.layers.Layer):
    """Logits [B, S, V] = hidden states times the token table, transposed, no bias:
    GPT-2's output projection is its input embedding (Press & Wolf 2017)."""

    def __init__(self, embedding_layer, **kwargs):
        super().__init__(**kwargs)
        if isinstance(embedding_layer, dict):
            embedding_layer = keras.layers.deserialize(
                embedding_layer, custom_objects={"TransformerEmbeddings": TransformerEmbeddings}
            )
        self.embedding_layer = embedding_layer

    def call(self, sequence_output):
        table = tf.cast(self.embedding_layer.word_embeddings, self.compute_dtype)
        return tf.einsum("bsh,vh->bsv", tf.cast(sequence_output, self.compute_dtype), table)

    def get_config(self):
        config = super().get_config()
        config.update(embedding_layer=keras.layers.serialize(self.embedding_layer))
        return config


class _GPT2TaskModel(TaskModel):
    """BERT's task-model pattern over :class:`GPT2Model`."""

    encoder_class = GPT2Model
    with_pooler = False


class GPT2LMHeadModel(IncrementalDecoding, _GPT2TaskModel):
    """Next-token logits [B, S, V] (logits at position t predict token t + 1).

    Generates with :func:`tfmodels.generation.generate` (key/value cache).
    """

    architecture = "GPT2LMHeadModel"

    @property
    def decoder_blocks(self):
        return self.encoder.transformer_layers

    def decoder_inputs(self, ids, positions):
        return self.encoder.embedding_layer(ids, positions=positions)

    def decoder_outputs(self, x):
        return self.lm_head(self.encoder.final_layer_norm(x))

    def _heads(self, encoder, backbone):
        head = TiedLMHead(encoder.embedding_layer, name="lm_head")
        return (
            {
                "sequence_output": backbone["sequence_output"],
                "logits": head(backbone["sequence_output"]),
            },
            {"lm_head": head},
        )


FAMILY = Family(
    "gpt2",
    Config,
    tasks={"backbone": GPT2Model, "causal_lm": GPT2LMHeadModel},
    converter="tfmodels.convert.gpt2",
    tokenizer="byte_bpe",
    packing="gpt2",
    objective="causal_lm",
)


def from_config(config):
    """The backbone of a :class:`Config` (or its dict)."""
    return GPT2Model(config)
