"""The Transformer (Vaswani et al. 2017): the original encoder-decoder.

Section 3 in code: N post-LN encoder blocks and N decoder blocks (causal
self-attention, cross-attention, ReLU feed-forward), a token table shared by
source, target and the pre-softmax projection, scaled by sqrt(d_model), with
sinusoidal positions (sections 3.4-3.5). Training adds label smoothing 0.1
(section 5.4, :func:`tfmodels.tasks.seq2seq.sequence_loss`) and the inverse-sqrt
warm-up schedule (section 5.3, ``schedule: inverse_sqrt``).

The base model (``transformer_base``) is d_model 512, 6 + 6 layers, 8 heads,
d_ff 2048; there is no HuggingFace class for it, so checkpoints are our own
(save/restore through ``tf.train.Checkpoint`` and ``save_pretrained``).
"""

import dataclasses

from tfmodels.errors import ConfigError
from tfmodels.layers import TransformerDecoderBlock, TransformerEncoderBlock
from tfmodels.layers.seq2seq_embeddings import StackInputs, TokenEmbeddings, TokenLogits
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family
from tfmodels.models.seq2seq import EncoderDecoderModel, Seq2SeqParts, TransformerStack


@dataclasses.dataclass
class Config(ModelConfig):
    family = "transformer"

    vocab_size: int = 37000  # the paper's shared source-target BPE vocabulary
    hidden_size: int = 512
    num_layers: int = 6  # in each of the encoder and the decoder
    num_heads: int = 8
    intermediate_size: int = 2048
    hidden_act: str = "relu"
    dropout: float = 0.1
    attention_dropout: float = 0.0
    max_position_embeddings: int = 1024
    layer_norm_eps: float = 1e-6
    initializer_range: float = 0.02
    # [PAD], [CLS] and [SEP] of a vocabulary from tfmodels.tokenizers.vocab_training
    # (the tokenizer's own ids must match: run_seq2seq.py checks).
    pad_token_id: int = 0
    bos_token_id: int = 2  # decoder start
    eos_token_id: int = 3

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"hidden_size ({self.hidden_size}) must be a multiple of "
                f"num_heads ({self.num_heads})"
            )


def transformer_parts(config):
    """The paper's parts: shared scaled table + sinusoids, post-LN ReLU blocks."""
    tokens = TokenEmbeddings(
        config.vocab_size,
        config.hidden_size,
        initializer_range=config.initializer_range,
        name="shared",
    )

    def stack(name, block_class):
        inputs = StackInputs(
            tokens,
            max_positions=config.max_position_embeddings,
            position_type="sinusoidal",
            scale="sqrt",
            dropout_rate=config.dropout,
            name=f"{name}_inputs",
        )
        blocks = [
            block_class(
                config.num_heads,
                config.intermediate_size,
                activation=config.hidden_act,
                dropout_rate=config.dropout,
                attention_dropout_rate=config.attention_dropout,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                name=f"{name}_layer_{i}",
            )
            for i in range(config.num_layers)
        ]
        return TransformerStack(inputs, blocks, name=name)

    return Seq2SeqParts(
        tokens=tokens,
        encoder=stack("encoder", TransformerEncoderBlock),
        decoder=stack("decoder", TransformerDecoderBlock),
        lm_head=TokenLogits(tokens, name="lm_head"),
        decoder_start_id=config.bos_token_id,
    )


class TransformerModel(EncoderDecoderModel):
    """Features -> ``{encoder_output, sequence_output}``."""

    architecture = "TransformerModel"
    config_class = Config
    build_parts = staticmethod(transformer_parts)


class TransformerForConditionalGeneration(TransformerModel):
    """Features -> ``{encoder_output, sequence_output, logits [B, T, V]}``."""

    architecture = "TransformerForConditionalGeneration"
    with_lm_head = True


FAMILY = Family(
    "transformer",
    Config,
    tasks={"backbone": TransformerModel, "seq2seq_lm": TransformerForConditionalGeneration},
    converter="tfmodels.convert.transformer",
    tokenizer=None,
    packing="bert",
    objective=None,
)


def from_config(config):
    return TransformerModel(config)
