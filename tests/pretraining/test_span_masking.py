"""SpanBERT span masking: span lengths, 15% of whole words, spans inside [CLS]..[SEP],
80/10/10 per span, boundaries, and the TFRecord example."""

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError, DataError
from tfmodels.pretraining import span_masking
from tfmodels.pretraining.masking import word_groups
from tfmodels.pretraining.span_masking import mask_spans, sample_span_lengths, span_length_pmf

VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + [f"w{i}" for i in range(200)]
    + [f"##p{i}" for i in range(50)]
)
IDS = {t: i for i, t in enumerate(VOCAB)}
SPECIAL = {"[CLS]", "[SEP]", "[PAD]"}


def sample_words(rng, length):
    """Words of one to three WordPieces, ``length`` pieces in all (the last word may be cut)."""
    pieces = []
    while len(pieces) < length:
        pieces.append(VOCAB[rng.integers(5, 205)])
        pieces.extend(VOCAB[205 + rng.integers(50)] for _ in range(rng.integers(0, 3)))
    return pieces[:length]


def sample_sequence(rng, length=200):
    """``[CLS] a [SEP] b [SEP]``: two segments, so spans have a [SEP] inside to respect."""
    half = (length - 3) // 2
    return [
        "[CLS]",
        *sample_words(rng, half),
        "[SEP]",
        *sample_words(rng, length - 3 - half),
        "[SEP]",
    ]


def spans_of(span_left, span_right):
    return sorted(set(zip(span_left, span_right)))


def test_span_lengths_follow_the_truncated_geometric():
    """The paper's Geo(0.2) clipped at 10 with mean 3.8 is the renormalized truncation
    (the reference code's ``len_distrib``); min(Geo(0.2), 10) would have mean 4.46."""
    k = np.arange(1, 11)
    truncated = 0.2 * 0.8 ** (k - 1) / (1 - 0.8**10)
    np.testing.assert_allclose(span_length_pmf(0.2, 10), truncated, rtol=1e-12)
    assert abs((k * truncated).sum() - 3.797) < 1e-3
    clipped = 0.2 * 0.8 ** (k - 1)
    clipped[-1] = 0.8**9  # P(min(Geo, 10) = 10) = P(Geo >= 10)
    assert abs((k * clipped).sum() - 4.463) < 1e-3

    n = 100_000
    draws = sample_span_lengths(np.random.default_rng(0), n)
    counts = np.bincount(draws, minlength=12)[1:]
    assert counts[10:].sum() == 0 and draws.min() == 1
    counts = counts[:10]
    chi2 = lambda pmf: float(np.sum((counts - n * pmf) ** 2 / (n * pmf)))  # noqa: E731
    assert chi2(truncated) < 27.88  # chi-square, 9 degrees of freedom, p = 0.001
    assert chi2(clipped) > 1000  # and clearly not the clipped one
    np.testing.assert_allclose(counts / n, truncated, atol=0.005)
    assert abs(draws.mean() - 3.797) < 0.03


def test_rate_whole_words_special_tokens_and_boundaries():
    rng = np.random.default_rng(1)
    total = chosen = 0
    for _ in range(300):
        tokens = sample_sequence(rng)
        masked, positions, originals, left, right = mask_spans(
            tokens, VOCAB, rng, max_predictions=40
        )
        total += len(tokens)
        chosen += len(positions)
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
        assert originals == [tokens[p] for p in positions]
        assert len(left) == len(right) == len(positions)
        masked_set = set(positions)
        changed = {i for i, (a, b) in enumerate(zip(tokens, masked)) if a != b}
        assert changed <= masked_set
        for group in word_groups(tokens, SPECIAL, whole_word=True):  # whole words only
            assert set(group) <= masked_set or not set(group) & masked_set
        for p, lo, hi in zip(positions, left, right):
            assert lo < p < hi
        for lo, hi in spans_of(left, right):
            inside = set(range(lo + 1, hi))
            assert inside <= masked_set  # a span is the whole run between its boundaries
            assert lo not in masked_set and hi not in masked_set  # boundaries stay visible
            assert not any(tokens[i] in SPECIAL for i in inside)  # never crosses [SEP]
            assert not tokens[lo + 1].startswith("##")  # starts at a word start
        runs = spans_of(left, right)
        assert sum(hi - lo - 1 for lo, hi in runs) == len(positions)  # spans do not overlap
    assert abs(chosen / total - 0.15) < 0.01


def test_replacement_is_drawn_per_span():
    rng = np.random.default_rng(2)
    kinds = {"mask": 0, "random": 0, "keep": 0}
    for _ in range(1500):
        tokens = sample_sequence(rng, 120)
        masked, _, _, left, right = mask_spans(tokens, VOCAB, rng)
        for lo, hi in spans_of(left, right):
            span = range(lo + 1, hi)
            if all(masked[i] == "[MASK]" for i in span):
                kinds["mask"] += 1
            elif all(masked[i] == tokens[i] for i in span):
                kinds["keep"] += 1
            else:  # a random span: no [MASK] inside (unless drawn, 1 in 255 per token)
                assert sum(masked[i] == "[MASK]" for i in span) <= 1
                kinds["random"] += 1
    spans = sum(kinds.values())
    assert spans > 4500
    assert abs(kinds["mask"] / spans - 0.8) < 0.02
    assert abs(kinds["random"] / spans - 0.1) < 0.015
    assert abs(kinds["keep"] / spans - 0.1) < 0.015


def test_wordpiece_spans_without_whole_words_may_split_words():
    rng = np.random.default_rng(3)
    split = 0
    for _ in range(100):
        tokens = sample_sequence(rng)
        _, _, _, left, right = mask_spans(tokens, VOCAB, rng, whole_word=False)
        split += sum(tokens[lo + 1].startswith("##") for lo, _ in spans_of(left, right))
    assert split > 0


def test_budget_and_errors():
    rng = np.random.default_rng(4)
    _, positions, _, _, _ = mask_spans(sample_sequence(rng, 500), VOCAB, rng, max_predictions=20)
    assert 18 <= len(positions) <= 20  # whole words may leave the last one or two unfilled
    with pytest.raises(DataError, match="special token"):
        mask_spans(["w1", "w2", "[SEP]"], VOCAB, rng)
    with pytest.raises(ConfigError, match="p must be"):
        span_length_pmf(0.0, 10)
    with pytest.raises(ConfigError, match="max_span"):
        span_length_pmf(0.2, 0)


def test_encode_span_example_round_trip():
    rng = np.random.default_rng(5)
    tokens = sample_words(rng, 40)
    example = span_masking.encode_span_example(tokens, VOCAB, IDS, 48, rng, max_predictions=10)
    parsed = tf.io.parse_example([example.SerializeToString()], span_masking.feature_spec(48, 10))
    parsed = {k: v.numpy()[0] for k, v in parsed.items()}
    assert set(span_masking.SPAN_FEATURE_NAMES) <= set(parsed)
    n = int(parsed["masked_lm_weights"].sum())
    assert n == 6  # round(42 * 0.15)
    full = ["[CLS]", *tokens, "[SEP]"]
    assert parsed["input_mask"].tolist() == [1] * 42 + [0] * 6
    assert parsed["segment_ids"].tolist() == [0] * 48
    assert parsed["input_ids"][0] == IDS["[CLS]"] and parsed["input_ids"][41] == IDS["[SEP]"]
    positions = parsed["masked_lm_positions"][:n]
    assert parsed["masked_lm_ids"][:n].tolist() == [IDS[full[p]] for p in positions]
    unmasked = [i for i in range(42) if i not in set(positions.tolist())]
    assert parsed["input_ids"][unmasked].tolist() == [IDS[full[i]] for i in unmasked]
    left, right = parsed["span_left"][:n], parsed["span_right"][:n]
    assert np.all(left < positions) and np.all(positions < right)
    assert not (set(left.tolist()) | set(right.tolist())) & set(positions.tolist())
    for name in ("masked_lm_positions", "masked_lm_ids", "span_left", "span_right"):
        assert not parsed[name][n:].any()
    with pytest.raises(DataError, match="seq_length 16"):
        span_masking.encode_span_example(tokens, VOCAB, IDS, 16, rng)
