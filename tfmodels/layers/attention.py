"""Multi-head scaled dot-product attention (Vaswani et al. 2017, section 3.2).

One layer serves self-attention, cross-attention, padding masks and causal masks.
The number of heads and the head width are independent of the model width, so a
layer can keep fewer heads after head pruning (Michel et al. 2019).
"""

import contextlib
import math

import tensorflow as tf
import tf_keras as keras
from tensorflow.python.eager import record

from tfmodels.layers.dropout import Dropout
from tfmodels.layers.initializer import weight_initializer
from tfmodels.layers.softmax_dropout import probabilities, softmax_dropout


def attention_allowed(attention_mask, query_length, causal):
    """Which keys each query may attend to: bool [B or 1, 1, Q, K], or None for all.

    ``attention_mask`` is [B, K] (1 = real token, 0 = padding) or [B, Q, K], or None.
    """
    allowed = None
    if attention_mask is not None:
        mask = tf.cast(attention_mask, tf.bool)
        if mask.shape.rank == 2:
            mask = mask[:, tf.newaxis, :]
        allowed = mask[:, tf.newaxis, :, :]
    if causal:
        key_length = query_length if allowed is None else tf.shape(allowed)[-1]
        lower = tf.linalg.band_part(tf.ones([query_length, key_length], tf.bool), -1, 0)
        lower = lower[tf.newaxis, tf.newaxis]
        allowed = lower if allowed is None else tf.logical_and(allowed, lower)
    return allowed


def cached_allowed(attention_mask, cache_index, query_length, key_length, causal):
    """The mask for queries at positions ``cache_index + [0, query_length)`` over a
    key/value cache of ``key_length`` slots: keys not yet written are never allowed,
    later keys not under ``causal``; ``attention_mask`` [B, key_length] marks padding."""
    query_positions = cache_index + tf.range(query_length)
    key_positions = tf.range(key_length)
    if causal:
        allowed = key_positions[tf.newaxis, :] <= query_positions[:, tf.newaxis]
    else:
        allowed = tf.broadcast_to(
            key_positions < cache_index + query_length, [query_length, key_length]
        )
    allowed = allowed[tf.newaxis, tf.newaxis]
    if attention_mask is not None:
        allowed = tf.logical_and(
            allowed, tf.cast(attention_mask, tf.bool)[:, tf.newaxis, tf.newaxis, :]
        )
    return allowed


# The score a disallowed key gets before the softmax. Float models take one whose
# exponential is exactly 0 (the -1e9 of additive masks). Full-integer exports trace
# the model under ``mask_penalty(INT8_MASK_PENALTY)``: an int8 tensor has one range,
# and a -1e9 in the softmax input would leave one step of it for all the real scores;
# -16 lies inside the usual range of attention scores, and ``exp(-16 - top)`` is far
# below the 1/256 step of TFLite's int8 softmax output.
FLOAT_MASK_PENALTY = 1e9
INT8_MASK_PENALTY = 16.0
_penalty = [FLOAT_MASK_PENALTY]


@contextlib.contextmanager
def mask_penalty(penalty):
    """Within this block, :func:`masked_softmax` gives disallowed keys the score
    ``-penalty`` (when its ``penalty`` argument is None)."""
    _penalty.append(float(penalty))
    try:
        yield
    finally:
        _penalty.pop()


def current_penalty(penalty=None):
    """``penalty``, or where it is None the current :func:`mask_penalty`'s."""
    return _penalty[-1] if penalty is None else penalty


def masked_scores(scores, allowed, penalty=None):
    """``scores`` with the disallowed keys' replaced by ``-penalty`` (None: the current
    :func:`mask_penalty`); ``allowed`` None: all of them, unchanged."""
    if allowed is None:
        return scores
    return tf.where(allowed, scores, -current_penalty(penalty))


def masked_softmax(scores, allowed, penalty=None):
    """Softmax over the allowed keys: disallowed keys score ``-penalty``
    (:func:`masked_scores`).

    The score is replaced, not lowered, so a padded key that scores high gets no
    weight whatever the penalty. One SELECT in front of the builtin softmax, which
    every runtime has a fast kernel for (TFLite's int8 SOFTMAX, XNNPACK, oneDNN).
    ``penalty`` None takes the current :func:`mask_penalty` (1e9 outside one:
    disallowed keys get exactly 0). A row with no allowed key attends to all keys
    alike, as with HuggingFace's additive masks.
    """
    return tf.nn.softmax(masked_scores(scores, allowed, penalty), axis=-1)


class MultiHeadAttention(keras.layers.Layer):
    """Query/key/value projections, per-head softmax attention, output projection.

    Call: ``layer(query, key_value=None, attention_mask=None, training=None,
    return_attention_scores=False, attention_bias=None, cache=None,
    cache_index=None)``; ``key_value`` defaults to ``query`` (self-attention). Returns
    the attended values [B, Q, H], and with ``return_attention_scores`` also the
    probabilities [B, heads, Q, K].

    - ``head_gate`` (an attribute, not a call argument): None, or a [B, heads] tensor
      that multiplies each head's context, the mask variable ``xi_h`` of Michel et al.
      2019 (section 2.3) whose gradient measures head importance (section 4.1). Head
      pruning installs it around the calls it makes
      (:func:`tfmodels.compression.head_pruning.gates_installed`); the model's own
      graph has no gate.
    - ``attention_bias`` [B or 1, heads, Q, K] is added to the scores: T5's relative
      position buckets (Raffel et al. 2020, section 2.1).
    - ``cache`` ``{"key", "value"}`` [B, heads, L, head_size] serves incremental
      decoding. With ``cache_index`` (a scalar), the new keys/values are written at
      ``cache_index`` and the queries attend to the cache's written slots
      (``attention_mask`` is then [B, L]); without it the cache is fixed (the
      encoder's projected keys/values in cross-attention, see
      :meth:`project_key_value`). The call then returns ``(output, cache)``.
    - ``scale`` multiplies the queries; None is ``1/sqrt(head_size)``. T5 folds the
      scale into its initialization and uses 1.
    """

    # The value of disallowed scores (None: the current :func:`mask_penalty`).
    mask_penalty = None

    def __init__(
        self,
        num_heads,
        head_size=None,
        output_size=None,
        dropout_rate=0.0,
        causal=False,
        use_bias=True,
        initializer_range=0.02,
        scale=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_heads = num_heads
        self.head_size = head_size
        self.output_size = output_size
        self.dropout_rate = dropout_rate
        self.causal = causal
        self.use_bias = use_bias
        self.initializer_range = initializer_range
        self.scale = scale
        self.head_gate = None  # set from outside: head_pruning.gates_installed

    def build(self, input_shape):
        width = int(input_shape[-1])  # Keras passes the shape of ``query``.
        if self.head_size is None:
            self.head_size = width // self.num_heads
        if self.output_size is None:
            self.output_size = width
        inner = self.num_heads * self.head_size

        def dense(name, units):
            return keras.layers.Dense(
                units,
                use_bias=self.use_bias,
                name=name,
                kernel_initializer=weight_initializer(self.initializer_range),
            )

        self.query = dense("query", inner)
        self.key = dense("key", inner)
        self.value = dense("value", inner)
        self.output_dense = dense("output", self.output_size)
        self.dropout = Dropout(self.dropout_rate)
        super().build(input_shape)

    def gate(self, context):
        """``context`` [B, heads, Q, d] times the installed ``head_gate``, if any."""
        if self.head_gate is None:
            return context
        return context * tf.cast(self.head_gate, self.compute_dtype)[:, :, tf.newaxis, tf.newaxis]

    def _split_heads(self, x):
        x = tf.reshape(x, [-1, _length(x), self.num_heads, self.head_size])
        return tf.transpose(x, [0, 2, 1, 3])

    def _merge_heads(self, context):
        """[B, heads, Q, d] -> [B, Q, heads * d], the output projection's input."""
        context = tf.transpose(context, [0, 2, 1, 3])
        return tf.reshape(context, [-1, _length(context), self.num_heads * self.head_size])

    @property
    def query_scale(self):
        return 1.0 / math.sqrt(self.head_size) if self.scale is None else self.scale

    def project_key_value(self, key_value):
        """The keys and values of ``key_value`` [B, K, H], split into heads: a fixed
        cache for cross-attention, computed once per generated sequence."""
        return {
            "key": self._split_heads(self.key(key_value)),
            "value": self._split_heads(self.value(key_value)),
        }

    def _point(self, name, x):
        """``x``, the tensor called ``name`` (``scaled_query``, ``scores``, ``probs``,
        ``context``, ...), as the rest of the layer sees it: unchanged here; QAT's
        subclasses (``compression.quantized_layers``) put a fake-quant point there, so
        that the float and the quantized layers share one computation."""
        return x

    def _scaled_query(self, query):
        """The queries of ``query`` [B, Q, H], split into heads and scaled."""
        return self._point("scaled_query", self._split_heads(self.query(query)) * self.query_scale)

    def _attend(self, q, k, v, allowed, training, added_scores=None, softmax_scale=None):
        """Attention of heads ``q`` over ``k``/``v`` where ``allowed``: ``(output, probs)``.

        ``added_scores`` join the scores before the softmax (an attention bias, DeBERTa's
        position terms); ``softmax_scale`` multiplies the sum (DeBERTa scales after the
        sum). The softmax runs in float32 under mixed precision."""
        scores = self._point("scores", tf.einsum("bhqd,bhkd->bhqk", q, k))
        if added_scores is not None:
            scores += tf.cast(added_scores, scores.dtype)
        if self._fuses_probs(training):
            penalty = current_penalty(self.mask_penalty)
            dropped = softmax_dropout(
                scores,
                allowed,
                penalty,
                softmax_scale,
                self.dropout.key(training),
                self.dropout.rate,
            )
            probs = tf.cast(
                probabilities(scores, allowed, penalty, softmax_scale), self.compute_dtype
            )
        else:
            logits = tf.cast(scores, tf.float32)
            if softmax_scale is not None:
                logits *= softmax_scale
            # masked_softmax, with a point between its SELECT and the softmax.
            logits = self._point("masked_scores", masked_scores(logits, allowed, self.mask_penalty))
            probs = self._point(
                "probs", tf.cast(tf.nn.softmax(logits, axis=-1), self.compute_dtype)
            )
            dropped = self.dropout(probs, training=training)
        context = self.gate(tf.einsum("bhqk,bhkd->bhqd", dropped, v))
        return self.output_dense(self._merge_heads(self._point("context", context))), probs

    def _fuses_probs(self, training):
        """Whether the probabilities take :func:`softmax_dropout`'s fused dropout and
        gradient: while a tape records (training steps, gradients of heads' importance),
        where the layer puts nothing between the softmax's steps (QAT's subclasses put
        fake-quant points there) and its dropout, if any, is keyed by the step."""
        return (
            record.could_possibly_record()
            and type(self)._point is MultiHeadAttention._point
            and not self.dropout.draws_unkeyed(training)
        )

    def call(
        self,
        query,
        key_value=None,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        attention_bias=None,
        cache=None,
        cache_index=None,
    ):
        key_value = query if key_value is None else key_value
        q = self._scaled_query(query)
        if cache is not None and cache_index is None:
            k, v = cache["key"], cache["value"]
        else:
            k = self._split_heads(self.key(key_value))
            v = self._split_heads(self.value(key_value))
        if cache_index is not None:
            k = tf.cast(_write(cache["key"], k, cache_index), self.compute_dtype)
            v = tf.cast(_write(cache["value"], v, cache_index), self.compute_dtype)
            cache = {"key": k, "value": v}
        if cache_index is not None:
            allowed = cached_allowed(
                attention_mask, cache_index, tf.shape(query)[1], tf.shape(k)[2], self.causal
            )
        else:
            allowed = attention_allowed(attention_mask, tf.shape(query)[1], self.causal)
        output, probs = self._attend(q, k, v, allowed, training, attention_bias)
        if cache is not None:
            return output, cache
        if return_attention_scores:
            return output, probs
        return output

    def get_config(self):
        config = super().get_config()
        config.update(
            num_heads=self.num_heads,
            head_size=self.head_size,
            output_size=self.output_size,
            dropout_rate=self.dropout_rate,
            causal=self.causal,
            use_bias=self.use_bias,
            initializer_range=self.initializer_range,
        )
        if self.scale is not None:  # only when set: older saved configs stay as they were
            config["scale"] = self.scale
        return config


def _length(x):
    """Axis 1 of ``x``: the static length where the graph has one (an exported file's
    fixed length), so that a reshape with a dynamic batch (-1) needs no SHAPE op at run
    time, which would split TFLite's XNNPACK partitions."""
    return x.shape[1] if x.shape[1] is not None else tf.shape(x)[1]


def _write(cache, update, index):
    """``cache`` [B, heads, L, d] with ``update`` [B, heads, T, d] written at slot
    ``index``: a dynamic-update-slice, so shapes stay fixed inside a decoding loop."""
    length, steps = tf.shape(cache)[2], tf.shape(update)[2]
    slots = tf.range(length)
    inside = tf.logical_and(slots >= index, slots < index + steps)
    # Slot j takes update[j - index] where it is inside the window, else keeps cache[j].
    gathered = tf.gather(update, tf.clip_by_value(slots - index, 0, steps - 1), axis=2)
    return tf.where(
        inside[tf.newaxis, tf.newaxis, :, tf.newaxis], tf.cast(gathered, cache.dtype), cache
    )
