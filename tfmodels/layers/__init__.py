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
