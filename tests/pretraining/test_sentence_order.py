"""Sentence-order prediction: in-order positives, the same pairs swapped as negatives, ~50/50."""

import numpy as np
import pytest

from tfmodels.pretraining.records import encode_example
from tfmodels.pretraining.sentence_order import instances_from_document, sentence_order_instances

# 30 documents of 10 sentences of 5 tokens; a token names its place: "d{doc}s{sentence}t{i}".
DOCUMENTS = [[[f"d{d}s{s}t{t}" for t in range(5)] for s in range(10)] for d in range(30)]


def place(token):
    d, rest = token[1:].split("s")
    s, t = rest.split("t")
    return int(d), int(s), int(t)


def is_contiguous(tokens):
    """True when ``tokens`` are consecutive tokens of one document, in order."""
    places = [place(t) for t in tokens]
    flat = [(d, s * 5 + t) for d, s, t in places]
    return len({d for d, _ in flat}) == 1 and all(b[1] == a[1] + 1 for a, b in zip(flat, flat[1:]))


def instances(swap_prob, seed=0, seq_length=24):
    rng = np.random.default_rng(seed)
    return [
        x
        for i in range(len(DOCUMENTS))
        for x in instances_from_document(DOCUMENTS, i, seq_length, rng, swap_prob=swap_prob)
    ]


def test_positives_are_consecutive_segments_in_order():
    positives = instances(swap_prob=0.0)
    assert len(positives) > 60
    for a, b, swapped in positives:
        assert not swapped and a and b and len(a) + len(b) <= 24 - 3
        # Each segment is a span of the document, and B comes after A (trimming a
        # too-long pair may cut tokens at either end of the longer one, so B can
        # start a little after A ends).
        assert is_contiguous(a) and is_contiguous(b)
        assert place(a[0])[0] == place(b[0])[0] and place(a[-1]) < place(b[0])


def test_negatives_are_exactly_the_positives_swapped():
    positives, negatives = instances(swap_prob=0.0), instances(swap_prob=1.0)
    assert len(negatives) == len(positives)
    assert [(b, a, True) for a, b, _ in positives] == negatives
    mixed = instances(swap_prob=0.5)
    assert [(a, b) if not s else (b, a) for a, b, s in mixed] == [(a, b) for a, b, _ in positives]


def test_labels_are_balanced_and_both_segments_share_a_document():
    rng = np.random.default_rng(3)
    data = sentence_order_instances(DOCUMENTS, seq_length=24, dupe_factor=8, rng=rng)
    labels = [swapped for _, _, swapped in data]
    assert len(data) > 400 and abs(np.mean(labels) - 0.5) < 0.06
    for a, b, swapped in data:
        assert len({place(t)[0] for t in a + b}) == 1
        first, second = (b, a) if swapped else (a, b)
        assert place(first[-1])[1:] < place(second[0])[1:]  # the original order


def test_one_sentence_documents_give_no_instance():
    rng = np.random.default_rng(0)
    docs = [[["a", "b", "c"]], [["x"] * 40]]
    assert list(instances_from_document(docs, 0, 16, rng)) == []
    assert list(instances_from_document(docs, 1, 16, rng)) == []


@pytest.mark.parametrize("swapped", [False, True])
def test_encoded_example_positions_and_label(swapped):
    """A written example: [CLS] A [SEP] B [SEP], segments 0/1, label 1 iff swapped."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "p", "q", "r", "s", "t"]
    ids = {t: i for i, t in enumerate(vocab)}
    a, b = ["p", "q", "r"], ["s", "t"]
    if swapped:
        a, b = b, a
    example = encode_example(
        a, b, swapped, vocab, ids, seq_length=10, rng=np.random.default_rng(0), static_masking=False
    )
    f = {k: list(v.int64_list.value) for k, v in example.features.feature.items()}
    expected = [ids[t] for t in ["[CLS]", *a, "[SEP]", *b, "[SEP]"]] + [0, 0]
    assert f["input_ids"] == expected
    assert f["segment_ids"] == [0] * (len(a) + 2) + [1] * (len(b) + 1) + [0] * 2
    assert f["input_mask"] == [1] * 8 + [0] * 2
    assert f["next_sentence_labels"] == [int(swapped)]
