"""In-graph tokenizers (tensorflow-text) and the packer that builds model features."""

from tfmodels.tokenizers.packer import SegmentPacker, longest_first_lengths
from tfmodels.tokenizers.preprocessor import Preprocessor
from tfmodels.tokenizers.wordpiece import WordPieceTokenizer, normalize_text, read_vocabulary

__all__ = [
    "Preprocessor",
    "SegmentPacker",
    "WordPieceTokenizer",
    "longest_first_lengths",
    "normalize_text",
    "read_vocabulary",
]
from tfmodels.tokenizers.byte_bpe import (  # noqa: E402
    ByteBPEPreprocessor,
    ByteBPETokenizer,
    byte_bpe_preprocessor,
)

__all__ += ["ByteBPEPreprocessor", "ByteBPETokenizer", "byte_bpe_preprocessor"]
from tfmodels.tokenizers.sentencepiece import (  # noqa: E402
    SentencePieceTokenizer,
    albert_normalize,
    sentencepiece_preprocessor,
)

__all__ += ["SentencePieceTokenizer", "albert_normalize", "sentencepiece_preprocessor"]
