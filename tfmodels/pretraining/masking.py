"""Masked-LM input corruption (Devlin et al. 2019, section 3.1 and appendix A.1).

15% of the tokens (never [CLS]/[SEP]/padding) are chosen for prediction; of those
80% become [MASK], 10% a random token and 10% stay. Static masking
(:func:`mask_tokens`, numpy) is done once when TFRecords are written, optionally
over whole words (all WordPieces of a word together, BERT's 2019 "whole word
masking" release; byte-level BPE and SentencePiece mark word *starts* instead,
``Ġ``/``▁``, as fairseq's ``mask_whole_words`` reads them); dynamic masking
(:func:`dynamic_masking`, stateless ops keyed by the batch) draws a new mask each time a
batch is read (RoBERTa, Liu et al. 2019, section 4.1).
"""

import tensorflow as tf


def continues_word(token, word_start=None):
    """Whether a piece continues the previous word: WordPiece (``word_start=None``) marks
    continuations with ``##``; byte-level BPE (``"Ġ"``) and SentencePiece (``"▁"``) mark
    the first piece of a word, so any other piece continues one."""
    if word_start is None:
        return token.startswith("##")
    return not token.startswith(word_start)


def word_groups(tokens, special_tokens, whole_word, word_start=None):
    """Candidate positions, grouped per word when ``whole_word`` (see :func:`continues_word`)."""
    groups = []
    for i, token in enumerate(tokens):
        if token in special_tokens:
            continue
        if whole_word and groups and continues_word(token, word_start) and groups[-1][-1] == i - 1:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def mask_tokens(
    tokens,
    vocab,
    rng,
    mask_rate=0.15,
    max_predictions=20,
    whole_word=False,
    special_tokens=("[CLS]", "[SEP]", "[PAD]"),
    mask_token="[MASK]",
    word_start=None,
):
    """Returns (masked tokens, sorted positions, original tokens at those positions)."""
    groups = word_groups(tokens, set(special_tokens), whole_word, word_start)
    rng.shuffle(groups)
    budget = min(max_predictions, max(1, int(round(len(tokens) * mask_rate))))
    output = list(tokens)
    chosen = []
    for group in groups:
        if len(chosen) >= budget:
            break
        if len(chosen) + len(group) > budget:
            continue
        for i in group:
            draw = rng.random()
            if draw < 0.8:
                output[i] = mask_token
            elif draw < 0.9:
                output[i] = vocab[rng.integers(len(vocab))]
            chosen.append(i)
    chosen.sort()
    return output, chosen, [tokens[i] for i in chosen]


def dynamic_masking(
    input_ids,
    input_mask,
    vocab_size,
    mask_id,
    special_ids,
    seed,
    max_predictions=20,
    mask_rate=0.15,
):
    """Masks a padded batch [B, S] in-graph; returns the MLM features BERT's records carry.

    Per row, round(``mask_rate`` x the real non-special tokens) positions (at least one,
    at most ``max_predictions``) are drawn uniformly, then 80% [MASK] / 10% a random id /
    10% kept. The draws are stateless, keyed by ``seed`` ([2] ints: the run's seed and
    the batch's index), so the pipeline's position can be checkpointed and a resumed
    run masks its batches as an uninterrupted one does.
    ``masked_lm_positions``/``masked_lm_ids``/``masked_lm_weights`` are [B, max_predictions],
    ascending, zero-padded (weight 0) where fewer tokens were chosen.
    """
    ids = tf.cast(input_ids, tf.int32)
    length = tf.shape(ids)[1]
    pick, replace, random_id = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    special = tf.reduce_any(ids[..., tf.newaxis] == tf.constant(list(special_ids), tf.int32), -1)
    selectable = (tf.cast(input_mask, tf.int32) > 0) & ~special
    score = tf.where(selectable, tf.random.stateless_uniform(tf.shape(ids), pick), -1.0)
    slots = tf.minimum(max_predictions, length)
    _, best = tf.math.top_k(score, slots)  # selectable positions first, in random order
    available = tf.reduce_sum(tf.cast(selectable, tf.float32), axis=1)
    count = tf.cast(tf.round(available * mask_rate), tf.int32)
    count = tf.where(available > 0, tf.clip_by_value(count, 1, slots), 0)
    chosen = tf.range(slots)[tf.newaxis] < count[:, tf.newaxis]
    positions = tf.sort(tf.where(chosen, best, length), axis=1)  # chosen ones first, ascending
    chosen = positions < length
    positions = tf.where(chosen, positions, 0)
    originals = tf.gather(ids, positions, batch_dims=1)
    draw = tf.random.stateless_uniform(tf.shape(positions), replace)
    randoms = tf.random.stateless_uniform(
        tf.shape(positions), random_id, maxval=vocab_size, dtype=tf.int32
    )
    values = tf.where(draw < 0.8, mask_id, tf.where(draw < 0.9, randoms, originals))
    pad = [[0, 0], [0, max_predictions - slots]]
    return {
        "input_ids": place_at(ids, positions, values, chosen),
        "input_mask": tf.cast(input_mask, tf.int32),
        "masked_lm_positions": tf.pad(positions, pad),
        "masked_lm_ids": tf.pad(tf.where(chosen, originals, 0), pad),
        "masked_lm_weights": tf.pad(tf.cast(chosen, tf.float32), pad),
    }


def place_at(ids, positions, values, chosen):
    """``ids`` [B, S] with ``values`` [B, P] written at ``positions`` [B, P] where ``chosen``.

    Unchosen entries (zero padding of the position lists) write nothing.
    """
    onehot = tf.one_hot(positions, tf.shape(ids)[1], dtype=tf.int32)
    onehot *= tf.cast(chosen, tf.int32)[..., tf.newaxis]  # [B, P, S]
    hit = tf.reduce_max(onehot, axis=1) > 0
    placed = tf.reduce_sum(onehot * tf.cast(values, tf.int32)[..., tf.newaxis], axis=1)
    return tf.where(hit, placed, tf.cast(ids, tf.int32))
