"""In-graph tokenizers (tensorflow-text) and the packer that builds model features."""
from tfmodels.tokenizers.packer import SegmentPacker, longest_first_lengths
from tfmodels.tokenizers.preprocessor import Preprocessor
from tfmodels.tokenizers.wordpiece import WordPieceTokenizer, normalize_text, read_vocabulary

__all__ = ["Preprocessor", "SegmentPacker", "WordPieceTokenizer", "longest_first_lengths",
           "normalize_text", "read_vocabulary"]
