"""Span boundary head: output shape, f's inputs (x_{s-1}, x_{e+1}, p at index i - s),
the tied decoder, config round trip and checkpoints."""

import numpy as np
import tensorflow as tf

from tfmodels.layers import SpanBoundaryHead, TransformerEmbeddings, span_relative_positions

B, S, H, V, P = 2, 12, 16, 50, 5


def make_head(**kw):
    embeddings = TransformerEmbeddings(V, H, max_positions=S, dropout_rate=0.0)
    embeddings(tf.ones([1, S], tf.int32))
    head = SpanBoundaryHead(embeddings, max_positions=6, position_size=8, **kw)
    return head


def span_inputs():
    """Two rows of spans: positions with their boundaries s-1 and e+1."""
    positions = tf.constant([[2, 3, 4, 8, 9], [1, 5, 6, 7, 10]])
    left = tf.constant([[1, 1, 1, 7, 7], [0, 4, 4, 4, 9]])
    right = tf.constant([[5, 5, 5, 10, 10], [2, 8, 8, 8, 11]])
    return positions, left, right


def test_shape_and_tied_decoder():
    head = make_head()
    sequence = tf.random.normal([B, S, H], seed=0)
    logits = head(sequence, *span_inputs())
    assert logits.shape == (B, P, V)
    assert np.all(np.isfinite(logits.numpy()))
    table = head.embedding_layer.word_embeddings
    assert any(v is table for v in head.trainable_weights)  # the word table, shared
    own = [v for v in head.trainable_weights if v is not table]
    assert not [v for v in own if tuple(v.shape) == (V, H)]  # no second [V, E] table
    table.assign(table * 2.0)
    assert float(tf.reduce_max(tf.abs(head(sequence, *span_inputs()) - logits))) > 1e-3


def test_inputs_are_boundaries_and_relative_position_i_minus_s():
    head = make_head()
    sequence = tf.random.normal([B, S, H], seed=1)
    positions, left, right = span_inputs()
    head(sequence, positions, left, right)
    x = head.boundary_inputs(sequence, positions, left, right).numpy()
    assert x.shape == (B, P, 2 * H + 8)
    seq, table = sequence.numpy(), head.position_embeddings.numpy()
    relative = span_relative_positions(positions, left).numpy()
    np.testing.assert_array_equal(relative, [[0, 1, 2, 0, 1], [0, 0, 1, 2, 0]])  # i - s
    for b in range(B):
        for j in range(P):
            np.testing.assert_array_equal(x[b, j, :H], seq[b, left[b, j]])
            np.testing.assert_array_equal(x[b, j, H : 2 * H], seq[b, right[b, j]])
            np.testing.assert_array_equal(x[b, j, 2 * H :], table[relative[b, j]])
    # Deeper than the table: clipped to its last row (the objective drops those targets).
    deep = head.boundary_inputs(
        sequence, tf.constant([[11], [11]]), tf.constant([[0], [0]]), tf.constant([[11], [11]])
    ).numpy()
    np.testing.assert_array_equal(deep[0, 0, 2 * H :], table[5])


def test_config_round_trip_and_checkpoint(tmp_path):
    head = make_head(activation="gelu_tanh")
    sequence = tf.random.normal([B, S, H], seed=2)
    expected = head(sequence, *span_inputs())
    clone = SpanBoundaryHead.from_config(head.get_config())
    assert clone.get_config() == head.get_config()
    clone.embedding_layer(tf.ones([1, S], tf.int32))
    clone(sequence, *span_inputs())
    assert len(clone.weights) == len(head.weights)
    path = tf.train.Checkpoint(head=head).save(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(head=clone).restore(path).assert_consumed()
    np.testing.assert_allclose(clone(sequence, *span_inputs()), expected, atol=1e-6)
