"""Trains a WordPiece vocabulary from a text corpus (tf-text's ``bert_vocab_from_dataset``).

The corpus goes through the same normalization as the tokenizer, so the trained
pieces are the ones the tokenizer will look for.
"""

import os

import tensorflow as tf
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset

from tfmodels.atomic import atomic_write
from tfmodels.errors import DataError
from tfmodels.tokenizers.wordpiece import normalize_text

RESERVED_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def train_wordpiece_vocab(
    text_files, vocab_size, lower_case=True, reserved_tokens=RESERVED_TOKENS, output_path=None
):
    """Returns the vocabulary (list of tokens); writes it to ``output_path`` if given."""
    for path in text_files:
        if not os.path.isfile(path):
            raise DataError(f"corpus file not found: {path}")
    lines = tf.data.TextLineDataset(list(text_files)).filter(
        lambda line: tf.strings.length(tf.strings.strip(line)) > 0
    )
    lines = lines.batch(1024).map(lambda x: normalize_text(x, lower_case))
    vocab = bert_vocab_from_dataset.bert_vocab_from_dataset(
        lines,
        vocab_size=vocab_size,
        reserved_tokens=list(reserved_tokens),
        bert_tokenizer_params={"lower_case": False},
    )
    if output_path:
        with atomic_write(output_path) as f:
            f.write("\n".join(vocab) + "\n")
    return vocab
