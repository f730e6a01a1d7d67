"""SpanBERT's span masking (Joshi et al. 2020, section 3.1).

Spans of whole words are masked until 15% of the tokens are chosen. Each span's
length in words is drawn from a geometric distribution Geo(p = 0.2) restricted to
1..10 -- the paper's "clip at l_max = 10" is, in its reference code, a truncation
whose probabilities are renormalized, which is what gives the stated mean of 3.8
(``min(Geo(0.2), 10)`` would have mean 4.46). A span starts at a word start chosen
uniformly, takes the WordPieces of its words together and never crosses a special
token. BERT's 80/10/10 replacement is drawn once per span: the whole span becomes
[MASK], or random tokens, or stays.

Spans that end up adjacent merge into one (as in the reference code's
``merge_intervals``), so every masked run has unmasked boundary tokens x_{s-1}
and x_{e+1} -- the inputs of the span boundary objective (section 3.2).
"""

import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError, DataError
from tfmodels.pretraining.masking import word_groups
from tfmodels.pretraining.records import _float_feature, _int_feature, _pad

# The features a span example adds to BERT's static-masking ones.
SPAN_FEATURE_NAMES = ("span_left", "span_right")
SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]")  # as mask_tokens' default


def span_length_pmf(p=0.2, max_span=10):
    """P(length = k) for k = 1..max_span: Geo(p) truncated at ``max_span``, renormalized."""
    if not 0 < p <= 1:
        raise ConfigError(f"span masking: p must be in (0, 1], got {p}")
    if int(max_span) != max_span or max_span < 1:
        raise ConfigError(f"span masking: max_span must be a positive integer, got {max_span}")
    pmf = p * (1 - p) ** np.arange(int(max_span))
    return pmf / pmf.sum()


def sample_span_lengths(rng, size, p=0.2, max_span=10):
    """``size`` span lengths (in words) drawn from :func:`span_length_pmf`."""
    pmf = span_length_pmf(p, max_span)
    return rng.choice(len(pmf), size=size, p=pmf) + 1


def _choose_spans(words, num_tokens, budget, rng, p, max_span):
    """Boolean mask over token positions: spans of words until ``budget`` tokens are chosen.

    A span stops early at a gap between words (a special token), at a word that is
    already masked, or at a word that would exceed the budget.
    """
    chosen = np.zeros(num_tokens, bool)
    count = 0
    while count < budget:
        starts = [
            w
            for w, group in enumerate(words)
            if not chosen[group[0]] and count + len(group) <= budget
        ]
        if not starts:
            break
        length = int(sample_span_lengths(rng, None, p, max_span))
        first = starts[rng.integers(len(starts))]
        for w in range(first, min(first + length, len(words))):
            group = words[w]
            contiguous = w == first or group[0] == words[w - 1][-1] + 1
            if not contiguous or chosen[group[0]] or count + len(group) > budget:
                break
            chosen[group] = True
            count += len(group)
    return chosen


def _runs(chosen):
    """Maximal runs of chosen positions as (start, end), end inclusive."""
    runs, start = [], None
    for i, flag in enumerate(list(chosen) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def mask_spans(
    tokens,
    vocab,
    rng,
    mask_rate=0.15,
    max_predictions=20,
    p=0.2,
    max_span=10,
    whole_word=True,
    special_tokens=SPECIAL_TOKENS,
    mask_token="[MASK]",
    word_start=None,
):
    """Returns (masked tokens, sorted positions, originals, span_left, span_right).

    ``tokens`` are strings starting and ending with a special token ([CLS] ... [SEP]);
    ``span_left``/``span_right`` give, per masked position, the index of the token
    just before/after its (merged) span. ``rng`` is a ``numpy.random.Generator``.
    """
    special = set(special_tokens)
    if not tokens or tokens[0] not in special or tokens[-1] not in special:
        raise DataError(
            "mask_spans: tokens must start and end with a special token "
            f"({', '.join(special_tokens)}) so that every span has boundaries"
        )
    words = word_groups(tokens, special, whole_word, word_start=word_start)
    budget = min(max_predictions, max(1, int(round(len(tokens) * mask_rate))))
    chosen = _choose_spans(words, len(tokens), budget, rng, p, max_span)
    output = list(tokens)
    positions, span_left, span_right = [], [], []
    for start, end in _runs(chosen):
        draw = rng.random()  # one 80/10/10 draw for the whole span
        for i in range(start, end + 1):
            if draw < 0.8:
                output[i] = mask_token
            elif draw < 0.9:
                output[i] = vocab[rng.integers(len(vocab))]
            positions.append(i)
            span_left.append(start - 1)
            span_right.append(end + 1)
    return output, positions, [tokens[i] for i in positions], span_left, span_right


def encode_span_example(
    tokens, vocab, token_ids, seq_length, rng, max_predictions=20, mask_rate=0.15
):
    """One ``tf.train.Example`` of a single segment ``[CLS] tokens [SEP]`` (section 3.3: no NSP),
    for a BERT vocabulary (a list of pieces; ``token_ids`` maps them to ids).

    Features: ``input_ids``, ``input_mask``, ``segment_ids`` [seq_length];
    ``masked_lm_positions``, ``masked_lm_ids``, ``masked_lm_weights``, ``span_left``,
    ``span_right`` [max_predictions], zero-padded.
    """
    from tfmodels.pretraining.records import RecordOptions, Vocabulary

    del token_ids  # the ids are the vocabulary's order
    words = Vocabulary(list(vocab))
    options = RecordOptions(seq_length, True, max_predictions, mask_rate, whole_word=True)
    return _span_example([words.cls_token, *tokens, words.sep_token], words, options, rng)


def _span_example(tokens, vocab, options, rng):
    """The example of ``tokens`` (special tokens included) for a records.Vocabulary."""
    seq_length, max_predictions = options.seq_length, options.max_predictions
    if len(tokens) > seq_length:
        raise DataError(
            f"span example: {len(tokens)} tokens with [CLS]/[SEP] exceed seq_length {seq_length}"
        )
    masked, positions, originals, left, right = mask_spans(
        tokens,
        vocab.tokens,
        rng,
        mask_rate=options.mask_rate,
        max_predictions=max_predictions,
        special_tokens=vocab.special_tokens,
        mask_token=vocab.mask_token,
        word_start=vocab.word_start,
    )
    padding = [vocab.ids[vocab.pad_token]] * (seq_length - len(tokens))
    features = {
        "input_ids": _int_feature([vocab.ids[t] for t in masked] + padding),
        "input_mask": _int_feature(_pad([1] * len(tokens), seq_length)),
        "segment_ids": _int_feature([0] * seq_length),
        "masked_lm_positions": _int_feature(_pad(positions, max_predictions)),
        "masked_lm_ids": _int_feature(_pad([vocab.ids[t] for t in originals], max_predictions)),
        "masked_lm_weights": _float_feature(_pad([1.0] * len(positions), max_predictions)),
        "span_left": _int_feature(_pad(left, max_predictions)),
        "span_right": _int_feature(_pad(right, max_predictions)),
    }
    return tf.train.Example(features=tf.train.Features(feature=features))


def span_examples(documents, vocab, options, rng):
    """The ``span`` objective's records (tfmodels.pretraining.registry): single contiguous
    segments packed across sentences and documents up to ``seq_length`` (section 3.3,
    as RoBERTa's FULL-SENTENCES), span-masked, ``dupe_factor`` times."""
    from tfmodels.pretraining import full_sentences

    segments = full_sentences.pack_full_sentences(
        documents, options.seq_length, vocab.cls_token, vocab.sep_token
    )
    for _ in range(options.dupe_factor):
        for i in rng.permutation(len(segments)):
            yield _span_example(segments[i], vocab, options, rng)


def feature_spec(seq_length, max_predictions=20):
    """``tf.io.parse_example`` spec of :func:`encode_span_example`'s records."""
    from tfmodels.pretraining.records import _feature_spec

    spec = _feature_spec(seq_length, max_predictions, static=True, sentence_labels=False)
    spec.update(span_features(seq_length, max_predictions))
    return spec


def span_features(seq_length, max_predictions=20):
    """The parsing specs span records add to the masked-LM ones (the registry's hook)."""
    return {name: tf.io.FixedLenFeature([max_predictions], tf.int64) for name in SPAN_FEATURE_NAMES}
