"""T5 (Raffel et al. 2020): the text-to-text encoder-decoder.

Section 2.1 in code: the Transformer of Vaswani et al. with "Layer normalization
... applied to the input of each subcomponent" (pre-LN), "a simplified version of
layer normalization where the activations are only rescaled and no additive bias
is applied" (RMS norm), no biases in any projection, a final norm and dropout at
the end of each stack, and no absolute positions: a scalar per head and
log-spaced distance bucket is added to the attention logits
(:class:`RelativePositionBias`), computed by the first layer of each stack and
shared by all its layers (bidirectional buckets in the encoder, backward-only in
the decoder; none in cross-attention). The attention is unscaled (the 1/sqrt(d)
is folded into the initialization, Mesh TensorFlow's convention). One token table
serves both stacks; t5-small/base tie the LM head to it after rescaling the
decoder output by d_model ** -0.5, T5 v1.1 (``tie_word_embeddings=False``) has a
separate bias-free ``lm_head``. Decoding starts from the pad token 0; </s> is 1.

Only the original ReLU feed-forward (``feed_forward_proj="relu"``) is built; the
gated-GELU of T5 v1.1 is refused with a ConfigError.
"""

import dataclasses
from typing import Optional

import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers import RMSNormalization, TransformerDecoderBlock, TransformerEncoderBlock
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.relative_position_bias import RelativePositionBias
from tfmodels.layers.seq2seq_embeddings import StackInputs, TokenEmbeddings, TokenLogits
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family
from tfmodels.models.seq2seq import EncoderDecoderModel, Seq2SeqParts, TransformerStack


@dataclasses.dataclass
class Config(ModelConfig):
    """Defaults are HF ``T5Config``'s, i.e. the ``t5-small`` checkpoint."""

    family = "t5"
    HF_NAMES = {
        "d_model": "hidden_size",
        "d_kv": "head_size",
        "d_ff": "intermediate_size",
        "relative_attention_num_buckets": "num_buckets",
        "relative_attention_max_distance": "max_distance",
        "dropout_rate": "dropout",
        "layer_norm_epsilon": "layer_norm_eps",
    }

    vocab_size: int = 32128
    hidden_size: int = 512
    head_size: int = 64
    intermediate_size: int = 2048
    num_layers: int = 6  # encoder
    num_decoder_layers: Optional[int] = None  # None: as many as the encoder
    num_heads: int = 8
    num_buckets: int = 32
    max_distance: int = 128
    dropout: float = 0.1
    layer_norm_eps: float = 1e-6
    initializer_factor: float = 1.0
    feed_forward_proj: str = "relu"
    tie_word_embeddings: bool = True
    # transformers >= 5 writes tie_word_embeddings true for every T5 and says here
    # whether the decoder output is rescaled (False for T5 v1.1 checkpoints it wrote).
    scale_decoder_outputs: bool = True
    pad_token_id: int = 0
    eos_token_id: int = 1
    decoder_start_token_id: int = 0

    def __post_init__(self):
        if not self.tie_word_embeddings:  # an untied head never rescales (HF, either version)
            self.scale_decoder_outputs = False
        if self.feed_forward_proj != "relu":
            raise ConfigError(
                f"feed_forward_proj={self.feed_forward_proj!r} is not supported "
                "by tfmodels' T5 (only 'relu'; T5 v1.1's gated-gelu is not built)"
            )

    @property
    def decoder_layers(self):
        return self.num_layers if self.num_decoder_layers is None else self.num_decoder_layers


def t5_parts(config):
    """Shared unscaled table, RMS pre-LN bias-free ReLU blocks, relative position bias."""
    # Mesh TF / HF initialize with std ~ d_model ** -0.5; one range for all weights here.
    init = config.initializer_factor * config.hidden_size**-0.5
    tokens = TokenEmbeddings(
        config.vocab_size, config.hidden_size, initializer_range=init, name="shared"
    )

    def stack(name, block_class, num_layers, bidirectional):
        inputs = StackInputs(tokens, dropout_rate=config.dropout, name=f"{name}_inputs")
        blocks = [
            block_class(
                config.num_heads,
                config.intermediate_size,
                activation="relu",
                dropout_rate=config.dropout,
                attention_dropout_rate=config.dropout,
                layer_norm_eps=config.layer_norm_eps,
                norm_first=True,
                head_size=config.head_size,
                initializer_range=init,
                norm="rms",
                use_bias=False,
                attention_scale=1.0,
                activation_dropout_rate=config.dropout,
                name=f"{name}_layer_{i}",
            )
            for i in range(num_layers)
        ]
        bias = RelativePositionBias(
            config.num_heads,
            config.num_buckets,
            config.max_distance,
            bidirectional=bidirectional,
            initializer_range=init,
            name=f"{name}_relative_attention_bias",
        )
        norm = RMSNormalization(config.layer_norm_eps, name=f"{name}_final_layer_norm")
        return TransformerStack(
            inputs,
            blocks,
            final_norm=norm,
            position_bias=bias,
            dropout_rate=config.dropout,
            name=name,
        )

    if config.tie_word_embeddings:
        scale = config.hidden_size**-0.5 if config.scale_decoder_outputs else 1.0
        lm_head = TokenLogits(tokens, scale=scale, name="lm_head")
    else:
        lm_head = keras.layers.Dense(
            config.vocab_size,
            use_bias=False,
            name="lm_head",
            kernel_initializer=weight_initializer(init),
        )
    return Seq2SeqParts(
        tokens=tokens,
        encoder=stack("encoder", TransformerEncoderBlock, config.num_layers, True),
        decoder=stack("decoder", TransformerDecoderBlock, config.decoder_layers, False),
        lm_head=lm_head,
        decoder_start_id=config.decoder_start_token_id,
    )


class T5Model(EncoderDecoderModel):
    """Features -> ``{encoder_output, sequence_output}`` (the decoder's last hidden state)."""

    architecture = "T5Model"
    config_class = Config
    build_parts = staticmethod(t5_parts)


class T5ForConditionalGeneration(T5Model):
    """Features -> ``{encoder_output, sequence_output, logits [B, T, V]}``."""

    architecture = "T5ForConditionalGeneration"
    with_lm_head = True


FAMILY = Family(
    "t5",
    Config,
    tasks={"backbone": T5Model, "seq2seq_lm": T5ForConditionalGeneration},
    converter="tfmodels.convert.t5",
    tokenizer="t5_sentencepiece",
    packing="bert",
    objective="span_corruption",
)


def from_config(config):
    return T5Model(config)
