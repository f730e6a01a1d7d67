"""T5's span corruption (Raffel et al. 2020, section 3.1.4).

15% of the tokens are noise, in spans of mean length 3. As in the reference
``random_spans_noise_mask`` (t5.data.preprocessors): num_noise_tokens =
round(length * noise_density), num_noise_spans = round(num_noise_tokens /
mean_noise_span_length), at least 1 each; the noise and the non-noise tokens are each
cut at random into num_noise_spans non-empty pieces, interleaved starting with a
non-noise piece (so the sequence ends in noise). The inputs keep the non-noise tokens
and put one sentinel ``<extra_id_k>`` in place of the k-th noise span; the targets are
every sentinel followed by the tokens it replaced; both end in EOS. SpanBERT's
geometric span sampler (:mod:`span_masking`) does not fit: T5's span lengths come from
a random segmentation of a fixed noise budget, not from independent draws.

Sequences are cut from the concatenated documents at the length ``random_spans_helper``
computes, so that the corrupted inputs fill ``seq_length`` (568 raw tokens -> 512
inputs and 114 targets with the defaults).
"""

import numpy as np

from tfmodels.errors import ConfigError, DataError
from tfmodels.pretraining.seq2seq import seq2seq_example, seq2seq_features

NOISE_DENSITY = 0.15
MEAN_NOISE_SPAN_LENGTH = 3.0


def _random_segmentation(num_items, num_segments, rng):
    """Lengths of ``num_segments`` non-empty pieces of ``num_items``, cut uniformly at random."""
    cuts = np.sort(rng.choice(num_items - 1, num_segments - 1, replace=False)) + 1
    return np.diff(np.concatenate([[0], cuts, [num_items]]))


def noise_counts(
    length, noise_density=NOISE_DENSITY, mean_noise_span_length=MEAN_NOISE_SPAN_LENGTH
):
    """(noise tokens, noise spans) of a sequence of ``length`` (>= 2) tokens."""
    if not 0 < noise_density < 1 or mean_noise_span_length < 1:
        raise ConfigError(
            f"span corruption: noise_density must be in (0, 1) and "
            f"mean_noise_span_length >= 1, got {noise_density}, "
            f"{mean_noise_span_length}"
        )
    num_noise = min(max(int(round(length * noise_density)), 1), length - 1)
    num_spans = max(int(round(num_noise / mean_noise_span_length)), 1)
    return num_noise, min(num_spans, length - num_noise)  # a non-noise piece before each span


def random_spans_noise_mask(
    length, rng, noise_density=NOISE_DENSITY, mean_noise_span_length=MEAN_NOISE_SPAN_LENGTH
):
    """Boolean noise mask [length] (True = noise), as T5's reference function."""
    original_length, length = length, max(length, 2)
    num_noise, num_spans = noise_counts(length, noise_density, mean_noise_span_length)
    noise = _random_segmentation(num_noise, num_spans, rng)
    nonnoise = _random_segmentation(length - num_noise, num_spans, rng)
    mask = np.zeros(length, bool)
    start = 0
    for keep, drop in zip(nonnoise, noise):
        mask[start + keep : start + keep + drop] = True
        start += keep + drop
    return mask[:original_length]


def corrupt(ids, noise_mask, sentinels, eos_id):
    """(inputs, targets): each noise span -> one sentinel in the inputs; each sentinel
    then its span in the targets; both end in ``eos_id``."""
    inputs, targets, span = [], [], -1
    for i, (token, noise) in enumerate(zip(ids, noise_mask)):
        if not noise:
            inputs.append(token)
            continue
        if i == 0 or not noise_mask[i - 1]:
            span += 1
            if span >= len(sentinels):
                raise DataError(
                    f"span corruption: more noise spans than the vocabulary's "
                    f"{len(sentinels)} sentinel tokens; use a shorter seq_length"
                )
            inputs.append(sentinels[span])
            targets.append(sentinels[span])
        targets.append(token)
    return inputs + [eos_id], targets + [eos_id]


def corrupted_lengths(
    num_tokens, noise_density=NOISE_DENSITY, mean_noise_span_length=MEAN_NOISE_SPAN_LENGTH
):
    """(inputs, targets) lengths of ``num_tokens`` (>= 2) corrupted tokens, EOS included.
    The reference leaves out the mask's "at least one" floors, which only matter for
    sequences shorter than about 10 tokens."""
    num_noise, num_spans = noise_counts(num_tokens, noise_density, mean_noise_span_length)
    return num_tokens - num_noise + num_spans + 1, num_noise + num_spans + 1


def random_spans_helper(
    inputs_length, noise_density=NOISE_DENSITY, mean_noise_span_length=MEAN_NOISE_SPAN_LENGTH
):
    """(raw tokens per sequence, targets length) whose corruption fills ``inputs_length``."""
    tokens_length = inputs_length - 1
    while (
        corrupted_lengths(tokens_length + 1, noise_density, mean_noise_span_length)[0]
        <= inputs_length
    ):
        tokens_length += 1
    targets_length = corrupted_lengths(tokens_length, noise_density, mean_noise_span_length)[1]
    if noise_density == 0.5 and targets_length > inputs_length:  # the reference's rounding fix
        tokens_length, targets_length = tokens_length - 1, targets_length - 1
    return tokens_length, targets_length


def sentinel_ids(vocab):
    """Ids of ``<extra_id_0>``, ``<extra_id_1>``, ... (T5: id vocab_size - 1 - i)."""
    ids = []
    while f"<extra_id_{len(ids)}>" in vocab.ids:
        ids.append(vocab.ids[f"<extra_id_{len(ids)}>"])
    if not ids:
        raise ConfigError(
            f"span corruption needs the sentinel tokens <extra_id_0>, "
            f"<extra_id_1>, ... of a T5 vocabulary; this vocabulary of "
            f"{len(vocab.tokens)} tokens (pad {vocab.pad_token!r}, eos "
            f"{vocab.sep_token!r}) has none"
        )
    return ids


def span_corruption_examples(documents, vocab, options, rng):
    """The ``span_corruption`` objective's records (tfmodels.pretraining.registry).

    The documents' tokens are concatenated (no separator, as T5's
    ``reduce_concat_tokens``) and cut into sequences of ``random_spans_helper``'s
    length (the last may be shorter); each of ``dupe_factor`` passes draws new noise.
    EOS is ``vocab.sep_token`` (``</s>``); the decoder starts with the pad id (T5).
    """
    if options.mask_rate != NOISE_DENSITY:
        raise ConfigError(
            f"--mask_rate={options.mask_rate}: span corruption records are read "
            f"with the decoder length of noise density {NOISE_DENSITY}"
        )
    sentinels = sentinel_ids(vocab)
    eos, pad = vocab.ids[vocab.sep_token], vocab.ids[vocab.pad_token]
    tokens_length, targets_length = random_spans_helper(options.seq_length)
    stream = [vocab.ids[t] for document in documents for sentence in document for t in sentence]
    chunks = [stream[i : i + tokens_length] for i in range(0, len(stream), tokens_length)]
    for _ in range(options.dupe_factor):
        for i in rng.permutation(len(chunks)):
            inputs, targets = corrupt(
                chunks[i], random_spans_noise_mask(len(chunks[i]), rng), sentinels, eos
            )
            yield seq2seq_example(inputs, targets, options.seq_length, targets_length, pad, pad)


def span_corruption_features(seq_length, max_predictions=20):
    """The registry's ``extra_features`` hook: decoder-side specs of ``seq_length`` records."""
    del max_predictions  # the targets' length follows from seq_length
    return seq2seq_features(random_spans_helper(seq_length)[1])
