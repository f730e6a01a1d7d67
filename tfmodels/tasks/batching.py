"""Batches padded to their own length, and length-bucketed training batches.

Fine-tuning texts are mostly far shorter than ``seq_length``: padding every batch to it
spends most of the model's time on padding. Inputs are still tokenized to ``seq_length``
(the truncation limit), then each batch is cut to its longest row plus one padding
position, rounded up to a multiple of :data:`PAD_MULTIPLE`. So at most
``ceil(seq_length / PAD_MULTIPLE)`` shapes ever reach the model: without XLA the step
is one graph with a dynamic length, with XLA each shape is compiled once.

Training batches are bucketed by sorting inside a window: the example stream, shuffled
as before (a shuffle buffer over examples, reshuffled every epoch), is cut into windows
of :data:`WINDOW_BATCHES` batches; each window is grouped by the length its batches
will be cut to and split into batches, and the batches are shuffled again (a buffer of
one window), so the stream does not rise in length window by window. Inside a group
the examples keep their shuffled order (sorted by exact length, a toy task of 3-6
letters got batches of one length each and learned far slower). Which examples share
a batch changes every epoch with the example shuffle; every example is still seen once
per epoch. Everything is stateless or seeded, so the input position stays
checkpointable.

Evaluation keeps the examples' order (the callers sort by text length on the host and
put the results back in order, :func:`length_order`, :func:`in_order`).
"""

import numpy as np
import tensorflow as tf

PAD_MULTIPLE = 16  # batch lengths are multiples of this: few shapes, aligned math
WINDOW_BATCHES = 16  # batches sorted together; more: less padding, less mixing


def padded_length(longest, width, multiple=PAD_MULTIPLE):
    """The length a batch whose longest row is ``longest`` is cut to: one position more
    (a padding position), rounded up to a multiple of ``multiple``, at most ``width``.
    The padding position keeps a row's end as it is in a batch padded to ``width``:
    MobileBERT's trigram embedding reads each token's right neighbour, [PAD] there."""
    rounded = (longest + multiple) // multiple * multiple
    return tf.minimum(rounded, width)


def shape_count(seq_length, multiple=PAD_MULTIPLE):
    """How many batch lengths :func:`cut_to_longest` can produce (a bound on traces)."""
    return -(-seq_length // multiple)


def describe(seq_length):
    """The run's opening line on lengths: the limit and how many shapes batches take."""
    return (
        f"seq_length {seq_length} (batches padded to their own length, multiples of "
        f"{PAD_MULTIPLE}: at most {shape_count(seq_length)} shapes)"
    )


def cut_to_longest(tensors, lengths, multiple=PAD_MULTIPLE):
    """Cuts each [B, W, ...] tensor of the nest ``tensors`` to :func:`padded_length` of
    the batch's longest row (``lengths`` [B])."""
    width = tf.shape(tf.nest.flatten(tensors)[0])[1]
    length = padded_length(tf.cast(tf.reduce_max(lengths), tf.int32), width, multiple)
    return tf.nest.map_structure(lambda t: t[:, :length], tensors)


def mask_lengths(mask):
    """Row lengths [B] of a 0/1 mask [B, W] (padding at the end)."""
    return tf.reduce_sum(tf.cast(mask, tf.int32), axis=1)


def sort_window(window, lengths):
    """The examples of ``window`` (a nest of [N, ...] tensors) grouped by the length
    their batch would be cut to; within a group they keep their (shuffled) order, so
    bucketing does not also sort short texts from long ones inside a group."""
    groups = padded_length(tf.cast(lengths, tf.int32), tf.int32.max)
    order = tf.argsort(groups, stable=True)
    return tf.nest.map_structure(lambda t: tf.gather(t, order), window)


def bucketed_batches(windows, batch_size, length_fn, cut_fn, seed=0, window_batches=WINDOW_BATCHES):
    """Training batches from ``windows``, a dataset of batched examples holding
    ``window_batches * batch_size`` examples each (the shuffled, repeated stream batched
    by that many). ``length_fn(*window)`` gives the examples' lengths [N] and
    ``cut_fn(*batch)`` cuts one batch to its own length (:func:`cut_to_longest`)."""
    sorted_windows = windows.map(
        lambda *window: sort_window(window, length_fn(*window)),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    batches = sorted_windows.unbatch().batch(batch_size, drop_remainder=True)
    batches = batches.map(lambda *b: cut_fn(*b), num_parallel_calls=tf.data.AUTOTUNE)
    return batches.shuffle(window_batches, seed=seed).prefetch(tf.data.AUTOTUNE)


def in_order(rows, order):
    """``rows`` computed for the examples at ``order``, put back in the examples' order."""
    restored = np.empty_like(rows)
    restored[order] = rows
    return restored


def training_batches(
    ds, examples, batch_size, length_fn, cut_fn, seed=0, shuffle_buffer=10000, prepare=None
):
    """The training stream of every fine-tuning task: ``ds`` (one element per example,
    ``examples`` of them) shuffled every epoch, repeated, cut into windows and bucketed
    (:func:`bucketed_batches`). ``prepare`` maps the batched windows first (the
    classifier tokenizes there, a window at a time)."""
    ds = ds.shuffle(min(shuffle_buffer, examples), seed=seed, reshuffle_each_iteration=True)
    windows = ds.repeat().batch(batch_size * WINDOW_BATCHES)
    if prepare is not None:
        windows = prepare(windows)
    return bucketed_batches(windows, batch_size, length_fn, cut_fn, seed=seed)


def length_order(texts_a, texts_b=None):
    """Example indexes ordered by text length (characters, a proxy for tokens): batches
    of neighbours in this order are padded little. Stable, so equal lengths keep order."""
    lengths = [len(a) for a in texts_a]
    if texts_b is not None:
        lengths = [n + len(b) for n, b in zip(lengths, texts_b)]
    return np.argsort(np.asarray(lengths, np.int64), kind="stable")


def for_any_batch_shape(fn):
    """``fn`` (one argument: a nest of tensors or arrays) as one graph for every batch shape,
    traced at its first call with all dimensions unknown. Evaluation batches come in
    several lengths and a short last batch; ``reduce_retracing`` traced twice before
    it generalized, the first evaluation of a fine-tune paying seconds for it."""
    function = tf.function(fn, autograph=False)
    traced = []

    def call(batch):
        if not traced:
            spec = tf.nest.map_structure(
                lambda t: tf.TensorSpec([None] * len(t.shape), tf.as_dtype(t.dtype)), batch
            )
            traced.append(function.get_concrete_function(spec))
        return traced[0](batch)

    return call
