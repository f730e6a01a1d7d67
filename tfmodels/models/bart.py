"""BART (Lewis et al. 2020): a denoising sequence-to-sequence Transformer.

Section 2.1 in code: the standard encoder-decoder (Vaswani et al. 2017) with
GELU instead of ReLU, post-LN blocks with biases, learned positions and a
LayerNorm on the embeddings of each stack (``layernorm_embedding``), no final
stack norm. One token table (``model.shared``) feeds both stacks and, tied, the
LM head, which adds a non-trainable ``final_logits_bias``. Learned positions
are numbered from 2 (fairseq's offset for its padding index): the position table
has ``max_position_embeddings + 2`` rows. Encoder and decoder may differ in
depth, heads and feed-forward width. Ids: ``<s>`` 0, ``<pad>`` 1, ``</s>`` 2,
and the decoder starts from ``</s>`` (``decoder_start_token_id`` 2).

``activation_dropout`` is the dropout after the feed-forward activation
(the block's ``activation_dropout_rate``).
"""

import dataclasses
import typing

from tfmodels.errors import ConfigError
from tfmodels.layers import TransformerDecoderBlock, TransformerEncoderBlock
from tfmodels.layers.seq2seq_embeddings import StackInputs, TokenEmbeddings, TokenLogits
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family
from tfmodels.models.seq2seq import EncoderDecoderModel, Seq2SeqParts, TransformerStack

POSITION_OFFSET = 2  # BartLearnedPositionalEmbedding's offset


@dataclasses.dataclass
class Config(ModelConfig):
    """Defaults are HF ``BartConfig``'s (``facebook/bart-large``)."""

    family = "bart"
    LAYER_NORM_EPS: typing.ClassVar[float] = 1e-5  # PyTorch's default; not configurable in HF
    HF_NAMES = {
        "d_model": "hidden_size",
        "encoder_layers": "num_encoder_layers",
        "decoder_layers": "num_decoder_layers",
        "encoder_attention_heads": "num_encoder_heads",
        "decoder_attention_heads": "num_decoder_heads",
        "encoder_ffn_dim": "encoder_intermediate_size",
        "decoder_ffn_dim": "decoder_intermediate_size",
        "activation_function": "hidden_act",
        "init_std": "initializer_range",
    }

    vocab_size: int = 50265
    hidden_size: int = 1024
    num_encoder_layers: int = 12
    num_decoder_layers: int = 12
    num_encoder_heads: int = 16
    num_decoder_heads: int = 16
    encoder_intermediate_size: int = 4096
    decoder_intermediate_size: int = 4096
    hidden_act: str = "gelu"
    dropout: float = 0.1
    attention_dropout: float = 0.0
    activation_dropout: float = 0.0
    max_position_embeddings: int = 1024
    scale_embedding: bool = False  # multiply token embeddings by sqrt(d_model)
    initializer_range: float = 0.02
    pad_token_id: int = 1
    bos_token_id: int = 0
    eos_token_id: int = 2
    decoder_start_token_id: int = 2
    # Variants (mBART, old fairseq conversions) this network does not implement; kept so
    # that a checkpoint using one is refused instead of silently computing something else.
    add_final_layer_norm: bool = False
    normalize_before: bool = False
    normalize_embedding: bool = True
    tie_word_embeddings: bool = True

    def __post_init__(self):
        for side, heads in (
            ("encoder", self.num_encoder_heads),
            ("decoder", self.num_decoder_heads),
        ):
            if self.hidden_size % heads:
                raise ConfigError(
                    f"d_model ({self.hidden_size}) must be a multiple of "
                    f"{side}_attention_heads ({heads})"
                )
        unsupported = {
            "add_final_layer_norm": self.add_final_layer_norm,
            "normalize_before": self.normalize_before,
            "normalize_embedding": not self.normalize_embedding,
            "tie_word_embeddings": not self.tie_word_embeddings,
        }
        self.refuse(unsupported, "tfmodels' BART (post-LN, tied embeddings only; mBART differs)")


def bart_parts(config):
    """Section 2.1's parts: shared table, learned positions + LayerNorm, post-LN GELU blocks."""
    tokens = TokenEmbeddings(
        config.vocab_size,
        config.hidden_size,
        initializer_range=config.initializer_range,
        name="shared",
    )

    def stack(name, block_class, num_layers, num_heads, intermediate_size):
        inputs = StackInputs(
            tokens,
            max_positions=config.max_position_embeddings,
            position_type="learned",
            position_offset=POSITION_OFFSET,
            scale="sqrt" if config.scale_embedding else None,
            layer_norm=True,
            layer_norm_eps=config.LAYER_NORM_EPS,
            dropout_rate=config.dropout,
            initializer_range=config.initializer_range,
            name=f"{name}_inputs",
        )
        blocks = [
            block_class(
                num_heads,
                intermediate_size,
                activation=config.hidden_act,
                dropout_rate=config.dropout,
                attention_dropout_rate=config.attention_dropout,
                layer_norm_eps=config.LAYER_NORM_EPS,
                initializer_range=config.initializer_range,
                activation_dropout_rate=config.activation_dropout,
                name=f"{name}_layer_{i}",
            )
            for i in range(num_layers)
        ]
        return TransformerStack(inputs, blocks, name=name)

    return Seq2SeqParts(
        tokens=tokens,
        encoder=stack(
            "encoder",
            TransformerEncoderBlock,
            config.num_encoder_layers,
            config.num_encoder_heads,
            config.encoder_intermediate_size,
        ),
        decoder=stack(
            "decoder",
            TransformerDecoderBlock,
            config.num_decoder_layers,
            config.num_decoder_heads,
            config.decoder_intermediate_size,
        ),
        lm_head=TokenLogits(tokens, bias=True, name="lm_head"),
        decoder_start_id=config.decoder_start_token_id,
    )


class BartModel(EncoderDecoderModel):
    """Features -> ``{encoder_output, sequence_output}``."""

    architecture = "BartModel"
    config_class = Config
    build_parts = staticmethod(bart_parts)


class BartForConditionalGeneration(BartModel):
    """Features -> ``{encoder_output, sequence_output, logits [B, T, V]}``; generates with
    :func:`tfmodels.generation.generate` (pass ``pad_id=1``, ``eos_id=2``)."""

    architecture = "BartForConditionalGeneration"
    with_lm_head = True


FAMILY = Family(
    "bart",
    Config,
    tasks={"backbone": BartModel, "seq2seq_lm": BartForConditionalGeneration},
    converter="tfmodels.convert.bart",
    tokenizer="byte_bpe",
    packing="roberta",
    objective="denoising",
)


def from_config(config):
    return BartModel(config)
