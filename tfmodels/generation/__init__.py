"""Text generation: incremental decoding with a key/value cache, and the searches.

- :mod:`incremental` — the mixin that gives a decoder-only or encoder-decoder model
  ``start_generation`` and ``decode_step`` (a fixed-size key/value cache, so the
  loops below compile under ``tf.function`` and XLA);
- :mod:`sampling` — temperature, top-k and top-p (nucleus) filtering of logits;
- :mod:`search` — greedy and sampled decoding, and beam search with length penalty.
"""

from tfmodels.generation.incremental import IncrementalDecoding, left_align
from tfmodels.generation.sampling import filter_logits
from tfmodels.generation.search import METHODS, beam_search, generate

__all__ = [
    "IncrementalDecoding",
    "METHODS",
    "beam_search",
    "filter_logits",
    "generate",
    "left_align",
]
