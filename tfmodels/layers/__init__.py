"""Shared Keras layers; every model family is a configuration of these."""
from tfmodels.layers.activations import get_activation
from tfmodels.layers.attention import MultiHeadAttention, attention_allowed, masked_softmax
from tfmodels.layers.classification_head import ClassificationHead
from tfmodels.layers.embeddings import TransformerEmbeddings
from tfmodels.layers.masked_lm_head import MaskedLMHead
from tfmodels.layers.pooler import Pooler
from tfmodels.layers.transformer_block import TransformerEncoderBlock

__all__ = [
    "ClassificationHead", "MaskedLMHead", "MultiHeadAttention", "Pooler",
    "TransformerEmbeddings", "TransformerEncoderBlock", "attention_allowed", "get_activation",
    "masked_softmax",
]

# MobileBERT (Sun et al. 2020): bottleneck blocks, NoNorm, trigram embeddings, widened MLM head.
from tfmodels.layers.bottleneck import (BottleneckEncoderBlock, FeedForward,  # noqa: E402
                                        SplitValueAttention)
from tfmodels.layers.extended_lm_head import ExtendedMaskedLMHead  # noqa: E402
from tfmodels.layers.no_norm import NoNorm, normalization  # noqa: E402
from tfmodels.layers.trigram_embeddings import TrigramEmbeddings  # noqa: E402

__all__ += [
    "BottleneckEncoderBlock", "ExtendedMaskedLMHead", "FeedForward", "NoNorm",
    "SplitValueAttention", "TrigramEmbeddings", "normalization",
]
