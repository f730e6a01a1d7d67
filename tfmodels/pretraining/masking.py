"""Masked-LM input corruption (Devlin et al. 2019, section 3.1 and appendix A.1).

15% of the tokens (never [CLS]/[SEP]/padding) are chosen for prediction; of those
80% become [MASK], 10% a random token and 10% stay. Static masking
(:func:`mask_tokens`, numpy) is done once when TFRecords are written, optionally
over whole words (all WordPieces of a word together, BERT's 2019 "whole word
masking" release; byte-level BPE and SentencePiece mark word *starts* instead,
``Ġ``/``▁``, as fairseq's ``mask_whole_words`` reads them); dynamic masking
(:func:`dynamic_masking`, tf-text's ``mask_language_model``) draws a new mask each time a
batch is read (RoBERTa, Liu et al. 2019, section 4.1).
"""

import tensorflow as tf
import tensorflow_text as tf_text


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
    input_ids, input_mask, vocab_size, mask_id, special_ids, max_predictions=20, mask_rate=0.15
):
    """Masks a padded batch [B, S] in-graph; returns the MLM features BERT's records carry.

    ``masked_lm_positions``/``masked_lm_ids``/``masked_lm_weights`` are [B, max_predictions],
    zero-padded (weight 0) where fewer tokens were chosen.
    """
    lengths = tf.reduce_sum(tf.cast(input_mask, tf.int64), axis=1)
    ragged = tf.RaggedTensor.from_tensor(tf.cast(input_ids, tf.int64), lengths=lengths)
    selector = tf_text.RandomItemSelector(
        max_selections_per_batch=max_predictions,
        selection_rate=mask_rate,
        unselectable_ids=list(special_ids),
    )
    chooser = tf_text.MaskValuesChooser(
        vocab_size, mask_id, mask_token_rate=0.8, random_token_rate=0.1
    )
    masked, positions, originals = tf_text.mask_language_model(ragged, selector, chooser)
    shape = [None, max_predictions]
    weights = tf.ones_like(positions, tf.float32).to_tensor(shape=shape)
    return {
        "input_ids": tf.cast(
            masked.to_tensor(shape=tf.shape(input_ids, out_type=tf.int64)), tf.int32
        ),
        "input_mask": tf.cast(input_mask, tf.int32),
        "masked_lm_positions": tf.cast(positions.to_tensor(shape=shape), tf.int32),
        "masked_lm_ids": tf.cast(originals.to_tensor(shape=shape), tf.int32),
        "masked_lm_weights": weights,
    }
