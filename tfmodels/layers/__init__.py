"""Shared Keras layers; every model family is a configuration of these."""

from tfmodels.layers.activations import get_activation
from tfmodels.layers.attention import MultiHeadAttention, attention_allowed, masked_softmax
from tfmodels.layers.classification_head import ClassificationHead
from tfmodels.layers.embeddings import TransformerEmbeddings
from tfmodels.layers.masked_lm_head import MaskedLMHead
from tfmodels.layers.pooler import Pooler
from tfmodels.layers.transformer_block import TransformerEncoderBlock

__all__ = [
    "ClassificationHead",
    "MaskedLMHead",
    "MultiHeadAttention",
    "Pooler",
    "TransformerEmbeddings",
    "TransformerEncoderBlock",
    "attention_allowed",
    "get_activation",
    "masked_softmax",
]

# MobileBERT (Sun et al. 2020): bottleneck blocks, NoNorm, trigram embeddings, widened MLM head.
from tfmodels.layers.bottleneck import BottleneckEncoderBlock, FeedForward, SplitValueAttention  # noqa: E402
from tfmodels.layers.extended_lm_head import ExtendedMaskedLMHead  # noqa: E402
from tfmodels.layers.no_norm import NoNorm, normalization  # noqa: E402
from tfmodels.layers.trigram_embeddings import TrigramEmbeddings  # noqa: E402

__all__ += [
    "BottleneckEncoderBlock",
    "ExtendedMaskedLMHead",
    "FeedForward",
    "NoNorm",
    "SplitValueAttention",
    "TrigramEmbeddings",
    "normalization",
]

# SpanBERT (Joshi et al. 2020): span boundary objective head.
from tfmodels.layers.span_boundary_head import SpanBoundaryHead, span_relative_positions  # noqa: E402

__all__ += ["SpanBoundaryHead", "span_relative_positions"]

# DeBERTa (He et al. 2021): disentangled attention, relative positions, enhanced mask decoder.
from tfmodels.layers.disentangled_attention import DisentangledAttention, DisentangledEncoderBlock  # noqa: E402
from tfmodels.layers.enhanced_mask_decoder import EnhancedMaskDecoder  # noqa: E402
from tfmodels.layers.relative_positions import (  # noqa: E402
    RelativeEmbeddings,
    log_bucket_position,
    relative_positions,
)

__all__ += [
    "DisentangledAttention",
    "DisentangledEncoderBlock",
    "EnhancedMaskDecoder",
    "RelativeEmbeddings",
    "log_bucket_position",
    "relative_positions",
]

# Encoder-decoders (Transformer, T5, BART): decoder block, RMS norm.
from tfmodels.layers.decoder_block import TransformerDecoderBlock  # noqa: E402
from tfmodels.layers.rms_norm import RMSNormalization  # noqa: E402

__all__ += ["RMSNormalization", "TransformerDecoderBlock"]
