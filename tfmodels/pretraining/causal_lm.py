"""Causal language modelling, GPT's objective (Radford et al. 2018, 2.1; 2019, 2).

Maximize sum_t log P(x_t | x_<t). The documents are joined into one stream with the
eos token between them (GPT-2's ``<|endoftext|>``) and cut into blocks of
``seq_length``; only the last block is padded, and its padding is not scored. The
model's ``logits`` at position t are scored against token t + 1: the shift is inside
:func:`causal_lm_loss`, so records hold ``labels`` aligned with ``input_ids``
(-100 on padding).
"""

import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.pretraining.objectives import input_tokens
from tfmodels.pretraining.records import _int_feature, _pad
from tfmodels.pretraining.seq2seq import IGNORE, token_loss


def token_stream(documents, eos):
    """The documents' tokens (documents are lists of sentences) with ``eos`` between them."""
    stream = []
    for index, document in enumerate(documents):
        if index:
            stream.append(eos)
        stream.extend(t for sentence in document for t in sentence)
    return stream


def blocks(stream, seq_length):
    """Consecutive ``seq_length`` pieces of ``stream``; the last may be shorter."""
    if seq_length < 2:
        raise ConfigError(f"causal LM: seq_length must be at least 2, got {seq_length}")
    return [stream[i : i + seq_length] for i in range(0, len(stream), seq_length)]


def causal_lm_example(ids, seq_length, pad_id):
    """One ``tf.train.Example``: ``input_ids``, ``input_mask``, ``segment_ids`` (0) and
    ``labels`` (the ids, -100 on padding) [seq_length]."""
    features = {
        "input_ids": _int_feature(_pad(ids, seq_length, pad_id)),
        "input_mask": _int_feature(_pad([1] * len(ids), seq_length)),
        "segment_ids": _int_feature([0] * seq_length),
        "labels": _int_feature(_pad(ids, seq_length, IGNORE)),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def causal_lm_examples(documents, vocab, options, rng):
    """The ``causal_lm`` objective's records (tfmodels.pretraining.registry): the blocks
    in a random order, each once (no masks, so ``dupe_factor`` passes would be copies).
    The separator is ``vocab.sep_token`` (GPT-2: ``<|endoftext|>``)."""
    stream = token_stream(documents, vocab.sep_token)
    pad = vocab.ids[vocab.pad_token]
    pieces = blocks([vocab.ids[t] for t in stream], options.seq_length)
    for i in rng.permutation(len(pieces)):
        yield causal_lm_example(pieces[i], options.seq_length, pad)


def causal_lm_features(seq_length, max_predictions=20):
    """The registry's ``extra_features`` hook: ``labels`` [seq_length]."""
    del max_predictions
    return {"labels": tf.io.FixedLenFeature([seq_length], tf.int64)}


def causal_lm_loss(model, batch, training):
    """Next-token cross-entropy: ``model(features)["logits"]`` [B, S, V] at t against
    token t + 1; padding (label -100, or ``input_mask`` 0 without labels) not scored.
    Metrics: ``lm_loss``, ``lm_accuracy``, ``lm_tokens`` (tokens scored) and ``tokens``
    (the real input tokens: ``input_mask``, 0 only on the last block's padding)."""
    out = model(
        {"input_ids": batch["input_ids"], "input_mask": batch["input_mask"]}, training=training
    )
    if "labels" in batch:
        labels = tf.cast(batch["labels"], tf.int32)
    else:
        labels = tf.where(
            tf.not_equal(batch["input_mask"], 0), tf.cast(batch["input_ids"], tf.int32), IGNORE
        )
    labels = labels[:, 1:]
    loss, metrics = token_loss(out["logits"][:, :-1], labels, tf.not_equal(labels, IGNORE))
    return loss, {**metrics, **input_tokens(batch)}
