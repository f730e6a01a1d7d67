"""BART noising: text-infilling statistics and layout, the other four transformations, and
the denoising records."""

import math
from collections import Counter

import numpy as np
import tensorflow as tf

from tfmodels.pretraining import denoising, seq2seq
from tfmodels.pretraining.denoising import (
    document_rotation,
    infilling_spans,
    sentence_permutation,
    text_infilling,
    token_deletion,
    token_masking,
)
from tfmodels.pretraining.records import RecordOptions, Vocabulary

BART_TOKENS = ["<s>", "<pad>", "</s>", "<unk>"] + [f"w{i}" for i in range(60)] + ["<mask>"]
BART_VOCAB = Vocabulary(
    BART_TOKENS, cls_token="<s>", sep_token="</s>", pad_token="<pad>", mask_token="<mask>"
)
MASK = "<mask>"


def test_infilling_span_lengths_follow_poisson_3_and_cover_30_percent():
    rng = np.random.default_rng(0)
    lengths, inner, masked, total = [], [], 0, 0
    for _ in range(3000):
        n = int(rng.integers(100, 300))
        spans = infilling_spans(n, rng)
        assert [s for s, _ in spans] == sorted(s for s, _ in spans)
        ends = [s + length for s, length in spans]
        assert all(e < s for e, (s, _) in zip(ends, spans[1:]))  # a kept token between spans
        assert ends[-1] <= n
        lengths.extend(length for _, length in spans)
        # The first five draws are Poisson(3) (they cover the budget of >= 30 tokens with
        # probability 2e-4); later ones are not quite: the draw crossing the budget is cut,
        # and the ones before it are biased short (the inspection paradox).
        inner.extend(length for _, length in spans[:5])
        masked += sum(length for _, length in spans)
        total += n
    ratio, mean = masked / total, float(np.mean(lengths))
    print(
        f"BART infilling: masked ratio {ratio:.4f}, mean span length {mean:.3f}, "
        f"0-length spans {np.mean(np.equal(lengths, 0)):.4f}"
    )
    assert abs(ratio - 0.3) < 0.005
    assert abs(mean - 3.0) < 0.15
    # chi-square of the early draws against Poisson(3), lengths 0..8 and a 9+ bin
    pmf = np.array([math.exp(-3) * 3**k / math.factorial(k) for k in range(9)])
    pmf = np.append(pmf, 1 - pmf.sum())
    counts = np.bincount(np.minimum(inner, 9), minlength=10)
    expected = len(inner) * pmf
    chi2 = float(np.sum((counts - expected) ** 2 / expected))
    assert chi2 < 27.88  # 9 degrees of freedom, p = 0.001
    assert abs(np.mean(inner) - 3.0) < 0.1


def test_text_infilling_replaces_each_span_by_one_mask():
    tokens = [f"w{i}" for i in range(20)]
    # spans (start, length): a 3-span, a 0-length insertion, a 1-span at the end
    out = text_infilling(tokens, None, MASK, spans=[(2, 3), (8, 0), (19, 1)])
    assert out == [
        "w0",
        "w1",
        MASK,
        "w5",
        "w6",
        "w7",
        MASK,
        "w8",
        *[f"w{i}" for i in range(9, 19)],
        MASK,
    ]
    rng = np.random.default_rng(1)
    for _ in range(200):
        tokens = [f"w{i}" for i in range(int(rng.integers(5, 80)))]
        state = rng.bit_generator.state
        spans = infilling_spans(len(tokens), rng)
        rng.bit_generator.state = state  # the same draw inside text_infilling
        out = text_infilling(tokens, rng, MASK)
        assert out.count(MASK) == len(spans)
        assert len(out) == len(tokens) - sum(length for _, length in spans) + len(spans)
        # the kept tokens keep their order; each <mask> stands where its span was
        kept = [t for t in out if t != MASK]
        assert kept == [
            t for i, t in enumerate(tokens) if not any(s <= i < s + length for s, length in spans)
        ]
    # a 0-length span inserts a <mask> without removing anything
    zero = [
        (s, length)
        for s, length in infilling_spans(10_000, np.random.default_rng(2))
        if length == 0
    ]
    assert zero, "Poisson(3) gives 0 about 5% of the time"
    out = text_infilling([f"w{i}" for i in range(50)], None, MASK, spans=[(10, 0)])
    assert (
        out[10] == MASK and len(out) == 51 and out[:10] + out[11:] == [f"w{i}" for i in range(50)]
    )


def test_token_masking_and_deletion_take_30_percent():
    rng = np.random.default_rng(3)
    tokens = [f"w{i}" for i in range(100)]
    masked = token_masking(tokens, rng, MASK)
    assert masked.count(MASK) == 30
    assert all(m in (MASK, t) for m, t in zip(masked, tokens))
    deleted = token_deletion(tokens, rng)
    assert len(deleted) == 70 and deleted == [t for t in tokens if t in set(deleted)]


def test_sentence_permutation_and_document_rotation():
    rng = np.random.default_rng(4)
    sentences = [[f"s{i}w{j}" for j in range(i + 1)] for i in range(8)]
    orders = set()
    for _ in range(20):
        permuted = sentence_permutation(sentences, rng)
        assert sorted(map(tuple, permuted)) == sorted(map(tuple, sentences))
        orders.add(tuple(map(tuple, permuted)))
    assert len(orders) > 10  # really shuffled
    tokens = list(range(30))
    starts = set()
    for _ in range(100):
        rotated = document_rotation(tokens, rng)
        start = rotated[0]
        assert rotated == tokens[start:] + tokens[:start]
        starts.add(start)
    assert len(starts) > 20


def test_denoising_records_reconstruct_the_original():
    rng = np.random.default_rng(5)
    documents = [
        [
            [f"w{i}" for i in rng.integers(0, 60, size=int(rng.integers(2, 9)))]
            for _ in range(int(rng.integers(1, 6)))
        ]
        for _ in range(10)
    ]
    options = RecordOptions(seq_length=16, dupe_factor=2)
    examples = list(denoising.denoising_examples(documents, BART_VOCAB, options, rng))
    blocks = denoising.sentence_blocks(documents, 14)
    assert len(examples) == 2 * len(blocks)
    # every block is whole sentences (or pieces) of one document, in order
    assert [t for b in blocks for s in b for t in s] == [t for d in documents for s in d for t in s]
    spec = {
        name: tf.io.FixedLenFeature([16], tf.int64)
        for name in ("input_ids", "input_mask", "segment_ids")
    }
    spec.update(denoising.denoising_features(16, 20))
    parsed = tf.io.parse_example([e.SerializeToString() for e in examples], spec)
    parsed = {k: v.numpy() for k, v in parsed.items()}
    ids = BART_VOCAB.ids
    originals = sorted(
        tuple([ids["<s>"], *[ids[t] for s in b for t in s], ids["</s>"]]) for b in blocks
    )
    got = []
    for i in range(len(examples)):
        n_out, n_in = parsed["decoder_input_mask"][i].sum(), parsed["input_mask"][i].sum()
        labels = parsed["labels"][i]
        assert (labels[n_out:] == seq2seq.IGNORE).all()
        assert parsed["decoder_input_ids"][i][0] == ids["</s>"]  # BART's decoder start
        np.testing.assert_array_equal(parsed["decoder_input_ids"][i][1:n_out], labels[: n_out - 1])
        source = parsed["input_ids"][i][:n_in]
        assert source[0] == ids["<s>"] and source[-1] == ids["</s>"]
        assert (parsed["input_ids"][i][n_in:] == ids["<pad>"]).all()
        content = [t for t in source[1:-1] if t != ids["<mask>"]]
        assert not Counter(content) - Counter(labels[1 : n_out - 1])  # kept tokens: the block's
        got.append(tuple(labels[:n_out]))
    assert sorted(got) == sorted(originals * 2)
    masks = (parsed["input_ids"] == ids["<mask>"]).sum()
    assert masks > 0
