"""Greedy, sampled and beam-search decoding over :class:`IncrementalDecoding` models.

Every loop is a ``tf.while_loop`` over fixed-shape tensors (the cache has its final
size from the start), so ``tf.function(generate)`` traces once per prompt shape
and XLA can compile it. After a row emits ``eos_id`` it only emits ``pad_id``; the
loop ends when every row is done or after ``max_new_tokens``.
"""

import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.generation.sampling import filter_logits

METHODS = ("greedy", "sample", "beam")


def _set_column(tokens, column, values):
    """``tokens`` [..., T] with ``values`` [...] written at ``column``."""
    hit = tf.equal(tf.range(tf.shape(tokens)[-1]), column)
    return tf.where(hit, tf.cast(values, tokens.dtype)[..., tf.newaxis], tokens)


def generate(
    model,
    features,
    max_new_tokens=20,
    method="greedy",
    temperature=1.0,
    top_k=0,
    top_p=1.0,
    num_beams=4,
    length_penalty=1.0,
    eos_id=None,
    pad_id=0,
    seed=0,
    use_cache=True,
):
    """New token ids [N, max_new_tokens] (``pad_id`` after ``eos_id``).

    ``method``: ``"greedy"`` (argmax), ``"sample"`` (a draw from the
    ``temperature``/``top_k``/``top_p``-filtered distribution, reproducible from
    ``seed``) or ``"beam"`` (:func:`beam_search`, best hypothesis).
    ``use_cache=False`` recomputes every position at every step: the reference the
    cache is tested against, and the baseline of ``benchmarks/decode_speed.py``.
    """
    if method not in METHODS:
        raise ConfigError(f"unknown decoding method {method!r}; known: {', '.join(METHODS)}")
    if method == "beam":
        return beam_search(
            model, features, max_new_tokens, num_beams, length_penalty, eos_id, pad_id
        )[0][:, 0]
    if temperature <= 0:
        raise ConfigError(f"temperature must be > 0, got {temperature}")

    def choose(logits, step):
        if method == "greedy":
            return tf.argmax(logits, axis=-1, output_type=tf.int32)
        filtered = filter_logits(logits, temperature, top_k, top_p)
        draw = tf.random.stateless_categorical(filtered, 1, seed=tf.stack([seed, step]))
        return tf.cast(draw[:, 0], tf.int32)

    if not use_cache:
        return _generate_uncached(model, features, max_new_tokens, choose, eos_id, pad_id)
    ids, cache = model.start_generation(features, max_new_tokens)
    logits, cache = model.decode_step(ids, cache, 0)  # the prompt (or start token) at once
    start = tf.shape(ids)[1]
    batch = tf.shape(ids)[0]
    tokens = tf.fill([batch, max_new_tokens], tf.cast(pad_id, tf.int32))
    done = tf.zeros([batch], tf.bool)

    def body(step, logits, cache, tokens, done):
        token = tf.where(done, pad_id, choose(logits, step))
        tokens = _set_column(tokens, step, token)
        if eos_id is not None:
            done = tf.logical_or(done, tf.equal(token, eos_id))
        logits, cache = model.decode_step(token[:, tf.newaxis], cache, start + step)
        return step + 1, logits, cache, tokens, done

    def more(step, logits, cache, tokens, done):
        return tf.logical_and(step < max_new_tokens, tf.logical_not(tf.reduce_all(done)))

    _, _, _, tokens, _ = tf.while_loop(
        more,
        body,
        (tf.constant(0), logits, cache, tokens, done),
        shape_invariants=(
            tf.TensorShape([]),
            logits.shape,
            tf.nest.map_structure(lambda t: t.shape, cache),
            tokens.shape,
            done.shape,
        ),
    )
    return tokens


def _generate_uncached(model, features, max_new_tokens, choose, eos_id, pad_id):
    """The same decoding with a fresh cache and every token re-run at each step."""
    ids, _ = model.start_generation(features, max_new_tokens)
    batch = tf.shape(ids)[0]
    done = tf.zeros([batch], tf.bool)
    tokens = []
    for step in range(max_new_tokens):
        _, cache = model.start_generation(features, max_new_tokens)
        logits, _ = model.decode_step(ids, cache, 0)
        token = tf.where(done, pad_id, choose(logits, step))
        tokens.append(token)
        if eos_id is not None:
            done = tf.logical_or(done, tf.equal(token, eos_id))
        ids = tf.concat([ids, token[:, tf.newaxis]], axis=1)
    return tf.stack(tokens, axis=1)


def _repeat_rows(features, times):
    return {key: tf.repeat(value, times, axis=0) for key, value in features.items()}


def beam_search(
    model, features, max_new_tokens=20, num_beams=4, length_penalty=1.0, eos_id=None, pad_id=0
):
    """Beam search (Sutskever et al. 2014; Wu et al. 2016, section 7).

    Each step extends every live beam by every token, keeps the ``2 * num_beams``
    best extensions, moves those ending in ``eos_id`` to the finished pool (scored
    ``sum log p / length ** length_penalty``, length counted in new tokens with the
    eos) and keeps the ``num_beams`` best others alive. Beams still alive after
    ``max_new_tokens`` are scored the same way. It stops early once no live beam can
    beat the worst finished one: with ``length_penalty > 0`` a live beam's score can
    at best reach ``log p / max_new_tokens ** length_penalty``.

    Returns ``(tokens [N, num_beams, max_new_tokens], scores [N, num_beams])``,
    best first.
    """
    if num_beams < 1:
        raise ConfigError(f"num_beams must be >= 1, got {num_beams}")
    k = num_beams
    ids, cache = model.start_generation(_repeat_rows(features, k), max_new_tokens)
    logits, cache = model.decode_step(ids, cache, 0)
    start = tf.shape(ids)[1]
    batch = tf.shape(ids)[0] // k
    neg_inf = tf.constant(-1e9)  # finite: keeps the top_k ties away from NaNs
    alive_tokens = tf.fill([batch, k, max_new_tokens], tf.cast(pad_id, tf.int32))
    # Only the first copy of each prompt is alive at first, so step 0 has k distinct beams.
    alive_logp = tf.tile(tf.concat([[0.0], tf.fill([k - 1], neg_inf)], 0)[tf.newaxis], [batch, 1])
    done_tokens = alive_tokens
    done_score = tf.fill([batch, k], neg_inf)

    def penalized(logp, length):
        return logp / tf.pow(tf.cast(length, tf.float32), length_penalty)

    def body(step, logits, cache, alive_tokens, alive_logp, done_tokens, done_score):
        logp = tf.nn.log_softmax(tf.cast(logits, tf.float32))
        vocab = tf.shape(logp)[-1]
        total = alive_logp[:, :, tf.newaxis] + tf.reshape(logp, [batch, k, vocab])
        top_logp, top_index = tf.math.top_k(tf.reshape(total, [batch, k * vocab]), k=2 * k)
        origin, token = top_index // vocab, top_index % vocab
        extended = _set_column(tf.gather(alive_tokens, origin, batch_dims=1), step, token)
        ended = tf.equal(token, eos_id) if eos_id is not None else tf.zeros_like(token, tf.bool)
        # Finished pool: the old finished and the candidates that just ended.
        candidates = tf.where(ended, penalized(top_logp, step + 1), neg_inf)
        pool_score = tf.concat([done_score, candidates], axis=1)
        pool_tokens = tf.concat([done_tokens, extended], axis=1)
        done_score, best = tf.math.top_k(pool_score, k=k)
        done_tokens = tf.gather(pool_tokens, best, batch_dims=1)
        # Alive: the k best candidates that did not end.
        alive_logp, keep = tf.math.top_k(tf.where(ended, neg_inf, top_logp), k=k)
        alive_tokens = tf.gather(extended, keep, batch_dims=1)
        rows = tf.reshape(
            tf.gather(origin, keep, batch_dims=1) + k * tf.range(batch)[:, tf.newaxis], [-1]
        )
        cache = tf.nest.map_structure(lambda t: tf.gather(t, rows), cache)
        last = tf.reshape(tf.gather(token, keep, batch_dims=1), [-1, 1])
        logits, cache = model.decode_step(last, cache, start + step)
        return step + 1, logits, cache, alive_tokens, alive_logp, done_tokens, done_score

    def more(step, logits, cache, alive_tokens, alive_logp, done_tokens, done_score):
        hope = (
            penalized(alive_logp[:, 0], max_new_tokens)
            if length_penalty > 0
            else penalized(alive_logp[:, 0], step)
        )
        beaten = tf.reduce_all(done_score[:, -1] >= hope)
        return tf.logical_and(step < max_new_tokens, tf.logical_not(beaten))

    state = (tf.constant(0), logits, cache, alive_tokens, alive_logp, done_tokens, done_score)
    invariants = tf.nest.map_structure(lambda t: tf.TensorShape([None] * t.shape.rank), state)
    step, _, _, alive_tokens, alive_logp, done_tokens, done_score = tf.while_loop(
        more, body, state, shape_invariants=invariants
    )
    # Live beams compete with the finished ones at their final length.
    pool_score = tf.concat([done_score, penalized(alive_logp, step)], axis=1)
    pool_tokens = tf.concat([done_tokens, alive_tokens], axis=1)
    scores, best = tf.math.top_k(pool_score, k=k)
    return tf.gather(pool_tokens, best, batch_dims=1), scores
