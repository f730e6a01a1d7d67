"""XLNet (Yang et al. 2019): permutation language modeling with two-stream attention.

Section 2 of the paper in code: token embeddings only (no absolute positions; the
attention is relative, Transformer-XL style, section 2.5), L post-LN layers of
:class:`TwoStreamBlock`, and an LM head tied to the token table with its own bias.
The content stream (``sequence_output``) is the representation fine-tuning uses.
With ``two_stream=True`` the network also takes ``perm_mask`` [B, S, S] (1: query i
may NOT see key j -- the factorization order, section 2.3) and ``target_mapping``
[B, P, S] (one-hot positions of the P targets, partial prediction, section 2.3) and
runs the query stream from the learned ``mask_emb``: ``query_output`` [B, P, H].
With ``with_mems=True`` it takes ``mems`` [B, L, M, H] -- every layer's input for
the previous segment, Transformer-XL's recurrence (section 2.4) -- and returns the
updated memory as ``mems``. The weights and every choice follow HF ``XLNetModel``
(attn_type "bi", bi_data False); ``segment_ids`` left out (or negative) means "no
segment information", as HF ``token_type_ids=None``.
"""

import dataclasses
from typing import Optional

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.layers import TransformerEmbeddings
from tfmodels.layers.dropout import Dropout
from tfmodels.layers.two_stream_attention import (
    MaskEmbedding,
    TwoStreamBlock,
    relative_position_encoding,
    segment_matrix,
)
from tfmodels.models import gpt2
from tfmodels.models.base import (
    FEATURE_DEFAULTS,
    OptionalFeatures,
    TaskModel,
    as_config,
    feature_inputs,
)
from tfmodels.models.config import ModelConfig
from tfmodels.models.family import Family


@dataclasses.dataclass
class Config(ModelConfig):
    """Defaults are HF ``XLNetConfig``'s but for the size, which is ``xlnet-base-cased``'s."""

    family = "xlnet"
    HF_NAMES = {
        "d_model": "hidden_size",
        "n_layer": "num_layers",
        "n_head": "num_heads",
        "d_inner": "intermediate_size",
        "d_head": "head_size",
        "ff_activation": "hidden_act",
        "dropout": "hidden_dropout",
    }

    vocab_size: int = 32000
    hidden_size: int = 768
    num_layers: int = 12
    num_heads: int = 12
    intermediate_size: int = 3072
    head_size: Optional[int] = None  # None: hidden_size // num_heads
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12
    hidden_dropout: float = 0.1
    initializer_range: float = 0.02
    mem_len: Optional[int] = 512  # memory kept for the next segment (None or 0: all)
    reuse_len: Optional[int] = None  # only the first reuse_len positions go to memory
    clamp_len: int = -1  # distances beyond it share a position encoding (-1: never)
    # HF options this network does not implement; kept so that a checkpoint using one is
    # refused instead of silently computing something else.
    attn_type: str = "bi"
    bi_data: bool = False
    same_length: bool = False  # only used with attn_type "uni"
    tie_word_embeddings: bool = True

    def __post_init__(self):
        if self.hidden_size % self.num_heads:
            raise ConfigError(
                f"d_model ({self.hidden_size}) must be a multiple of n_head ({self.num_heads})"
            )
        self.head_size = self.head_size or self.hidden_size // self.num_heads
        if self.head_size * self.num_heads != self.hidden_size:
            raise ConfigError(
                f"d_head ({self.head_size}) must be d_model // n_head "
                f"({self.hidden_size // self.num_heads})"
            )
        unsupported = {
            "attn_type": self.attn_type != "bi",
            "bi_data": self.bi_data,
            "tie_word_embeddings": not self.tie_word_embeddings,
        }
        self.refuse(unsupported, "tfmodels' XLNet")


def model_inputs(config, two_stream=False, with_mems=False):
    """The features, plus the query stream's and the memory's inputs when asked."""
    inputs = feature_inputs()
    if two_stream:
        inputs["perm_mask"] = keras.Input(shape=(None, None), dtype=tf.float32, name="perm_mask")
        inputs["target_mapping"] = keras.Input(
            shape=(None, None), dtype=tf.float32, name="target_mapping"
        )
    if with_mems:
        inputs["mems"] = keras.Input(
            shape=(config.num_layers, None, config.hidden_size), dtype=tf.float32, name="mems"
        )
    return inputs


class AttentionInputs(keras.layers.Layer):
    """What every layer's attention shares: the relative position encoding, the masks of
    both streams and the segment matrix (HF ``XLNetModel.forward`` before the layers).

    Call: ``layer(input_mask, segment_ids, perm_mask=None, memory_length=0)`` -> dict
    ``positions``, ``content_allowed``, ``query_allowed``, ``segments``. A key is hidden
    from query i when it is padding or ``perm_mask[i, j]`` is 1; the content stream
    always sees its own token (``h`` knows x_i, section 2.3); memory is never hidden.
    """

    def __init__(self, hidden_size, clamp_len=-1, **kwargs):
        super().__init__(**kwargs)
        self.hidden_size = hidden_size
        self.clamp_len = clamp_len

    def call(self, input_mask, segment_ids, perm_mask=None, memory_length=0):
        length = tf.shape(input_mask)[1]
        blocked = tf.logical_not(tf.cast(input_mask, tf.bool))[:, tf.newaxis, :]
        if perm_mask is not None:
            blocked = tf.logical_or(blocked, tf.cast(perm_mask, tf.bool))
        blocked = tf.broadcast_to(blocked, [tf.shape(input_mask)[0], length, length])
        blocked = tf.pad(blocked, [[0, 0], [0, 0], [memory_length, 0]])
        query_allowed = tf.logical_not(blocked)
        itself = tf.cast(tf.pad(tf.eye(length), [[0, 0], [memory_length, 0]]), tf.bool)
        return {
            "positions": relative_position_encoding(
                length, memory_length + length, self.hidden_size, self.clamp_len
            ),
            "content_allowed": tf.logical_or(query_allowed, itself[tf.newaxis]),
            "query_allowed": query_allowed,
            "segments": segment_matrix(segment_ids, memory_length),
        }

    def get_config(self):
        config = super().get_config()
        config.update(hidden_size=self.hidden_size, clamp_len=self.clamp_len)
        return config


# Left-out ``segment_ids`` are -1 everywhere: no segment term (HF ``token_type_ids=None``,
# which is also what HF's ``generate`` uses). See :class:`OptionalFeatures`.
NO_SEGMENTS = {**FEATURE_DEFAULTS, "segment_ids": ("input_ids", -1)}


class XLNetModel(OptionalFeatures, keras.Model):
    """Features -> ``{sequence_output, encoder_outputs[, query_output][, mems]}``.

    ``sequence_output`` [B, S, H] is the content stream after the last layer,
    ``encoder_outputs`` the content stream after each layer.
    """

    architecture = "XLNetModel"
    config_class = Config
    feature_defaults = NO_SEGMENTS

    def __init__(self, config, two_stream=False, with_mems=False, with_pooler=False, **kwargs):
        config = as_config(self, config)
        if with_pooler:
            raise ConfigError("XLNet has no pooler (with_pooler must be False)")
        inputs = model_inputs(config, two_stream, with_mems)
        embeddings = TransformerEmbeddings(
            config.vocab_size,
            config.hidden_size,
            max_positions=0,
            type_vocab_size=0,
            layer_norm=False,
            dropout_rate=config.hidden_dropout,
            initializer_range=config.initializer_range,
            name="word_embedding",
        )
        mask_embedding = MaskEmbedding(
            config.hidden_size, config.initializer_range, name="mask_emb"
        )
        shared = AttentionInputs(config.hidden_size, config.clamp_len, name="attention_inputs")
        blocks = [
            TwoStreamBlock(
                config.num_heads,
                config.head_size,
                config.intermediate_size,
                activation=config.hidden_act,
                dropout_rate=config.hidden_dropout,
                layer_norm_eps=config.layer_norm_eps,
                initializer_range=config.initializer_range,
                name=f"layer_{i}",
            )
            for i in range(config.num_layers)
        ]
        dropout = Dropout(config.hidden_dropout)

        h = embeddings(inputs["input_ids"])
        g, target_mapping = None, None
        if two_stream:
            target_mapping = inputs["target_mapping"]
            g = dropout(mask_embedding(target_mapping))
        else:  # unused by the content stream, but part of every checkpoint
            mask_embedding.build(None)
        mems = inputs.get("mems")
        memory_length = 0 if mems is None else tf.shape(mems)[2]
        attention = shared(
            inputs["input_mask"], inputs["segment_ids"], inputs.get("perm_mask"), memory_length
        )
        positions = dropout(attention["positions"])
        encoder_outputs, new_mems = [], []
        for i, block in enumerate(blocks):
            memory = None if mems is None else mems[:, i]
            if with_mems:
                new_mems.append(self._cache(h, memory, config))
            h, g = block(
                h,
                positions,
                g=g,
                mems=memory,
                content_allowed=attention["content_allowed"],
                query_allowed=attention["query_allowed"],
                segments=attention["segments"],
                target_mapping=target_mapping,
            )
            encoder_outputs.append(h)
        outputs = {"sequence_output": dropout(h), "encoder_outputs": encoder_outputs}
        if two_stream:
            outputs["query_output"] = dropout(g)
        if with_mems:
            outputs["mems"] = tf.stack(new_mems, axis=1)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.config = config
        self.two_stream = two_stream
        self.with_mems = with_mems
        self.with_pooler = False
        self.embedding_layer = embeddings
        self.mask_embedding = mask_embedding
        self.transformer_layers = blocks
        self.pooler_layer = None

    @staticmethod
    def _cache(h, memory, config):
        """The next segment's memory of one layer: its input, after the old memory, the
        first ``reuse_len`` positions only, the last ``mem_len`` kept (HF ``cache_mem``)."""
        if config.reuse_len:
            h = h[:, : config.reuse_len]
        if memory is not None:
            h = tf.concat([memory, h], axis=1)
        if config.mem_len:
            h = h[:, -config.mem_len :]
        return tf.stop_gradient(h)

    def get_config(self):
        return {
            "config": self.config.to_dict(),
            "name": self.name,
            "two_stream": self.two_stream,
            "with_mems": self.with_mems,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        return cls(**config)


class TiedLMHeadWithBias(gpt2.TiedLMHead):
    """Logits = hidden states times the token table, transposed, plus a bias of its own
    (HF ``lm_loss``, a Linear whose weight is ``word_embedding``)."""

    def build(self, input_shape):
        self.bias = self.add_weight("bias", [self.embedding_layer.vocab_size], initializer="zeros")
        super().build(input_shape)

    def call(self, hidden):
        return super().call(hidden) + tf.cast(self.bias, self.compute_dtype)


class _XLNetTaskModel(TaskModel):
    """BERT's task-model pattern over :class:`XLNetModel`; ``two_stream`` picks the
    network's inputs, so it is a class attribute rather than a head argument."""

    encoder_class = XLNetModel
    with_pooler = False
    two_stream = False
    feature_defaults = NO_SEGMENTS

    def __init__(self, config, name=None, **head_args):
        encoder = XLNetModel(config, two_stream=self.two_stream, name="encoder")
        inputs = model_inputs(encoder.config, self.two_stream)
        outputs, heads = self._heads(encoder, encoder(inputs), **head_args)
        super(TaskModel, self).__init__(inputs=inputs, outputs=outputs, name=name)
        for attribute, layer in heads.items():
            setattr(self, attribute, layer)
        self.config = encoder.config
        self.encoder = encoder
        self.head_args = head_args


class XLNetLMHeadModel(_XLNetTaskModel):
    """LM logits [B, S, V] of the content stream (HF ``XLNetLMHeadModel`` without
    ``target_mapping``)."""

    architecture = "XLNetLMHeadModel"

    def _heads(self, encoder, backbone):
        head = TiedLMHeadWithBias(encoder.embedding_layer, name="lm_loss")
        return (
            {
                "sequence_output": backbone["sequence_output"],
                "logits": head(backbone["sequence_output"]),
            },
            {"lm_head": head},
        )


class XLNetPermutationLM(XLNetLMHeadModel):
    """The pre-training model: LM logits [B, P, V] of the query stream at the targets of
    ``target_mapping``, seeing what ``perm_mask`` allows (section 2.3). Same weights and
    HF checkpoint layout as :class:`XLNetLMHeadModel`."""

    two_stream = True

    def _heads(self, encoder, backbone):
        head = TiedLMHeadWithBias(encoder.embedding_layer, name="lm_loss")
        return (
            {
                "sequence_output": backbone["sequence_output"],
                "query_output": backbone["query_output"],
                "logits": head(backbone["query_output"]),
            },
            {"lm_head": head},
        )


def next_token_features(input_ids):
    """Features that predict the token after ``input_ids`` [B, T] with a
    :class:`XLNetPermutationLM`, as HF ``XLNetLMHeadModel.prepare_inputs_for_generation``
    without memory: a dummy token 0 appended, hidden from every position by ``perm_mask``,
    is the one target; no padding, no segment information."""
    input_ids = tf.convert_to_tensor(input_ids, tf.int32)
    batch, length = tf.shape(input_ids)[0], tf.shape(input_ids)[1] + 1
    ids = tf.concat([input_ids, tf.zeros([batch, 1], tf.int32)], axis=1)
    last = tf.one_hot(length - 1, length)
    return {
        "input_ids": ids,
        "input_mask": tf.ones_like(ids),
        "segment_ids": -tf.ones_like(ids),
        "perm_mask": tf.broadcast_to(last, [batch, length, length]),
        "target_mapping": tf.broadcast_to(last, [batch, 1, length]),
    }


FAMILY = Family(
    "xlnet",
    Config,
    tasks={"backbone": XLNetModel, "lm": XLNetLMHeadModel, "pretraining": XLNetPermutationLM},
    converter="tfmodels.convert.xlnet",
    tokenizer="sentencepiece",
    packing="bert",
    objective="permutation_lm",
)


def from_config(config):
    """The backbone of a :class:`Config` (or its dict)."""
    return XLNetModel(config)
