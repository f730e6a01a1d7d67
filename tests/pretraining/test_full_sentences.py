"""FULL-SENTENCES packing: limits, document separators, each sentence once; dynamic masks."""

import numpy as np
import pytest

from tfmodels.errors import ConfigError
from tfmodels.pretraining.full_sentences import pack_full_sentences, write_full_sentence_records
from tfmodels.pretraining.records import pretraining_dataset

BOS, PAD, EOS, MASK = 0, 1, 2, 3


def corpus(seed=0, num_documents=12, max_sentence=30):
    """Documents whose token ids are all distinct, so every token can be traced back."""
    rng = np.random.default_rng(seed)
    documents, next_id, origin = [], 10, {}
    for d in range(num_documents):
        document = []
        for s in range(int(rng.integers(1, 6))):
            length = int(rng.integers(1, max_sentence))
            sentence = list(range(next_id, next_id + length))
            origin.update({t: (d, s) for t in sentence})
            next_id += length
            document.append(sentence)
        documents.append(document)
    documents.insert(3, [])  # an empty document changes nothing
    return documents, origin


@pytest.mark.parametrize("max_length", [8, 40, 512])
def test_examples_fit_and_use_every_sentence_once_in_order(max_length):
    documents, _ = corpus()
    examples = pack_full_sentences(documents, max_length=max_length, start_id=BOS, end_id=EOS)
    assert all(len(e) <= max_length and e[0] == BOS and e[-1] == EOS for e in examples)
    tokens = [t for e in examples for t in e if t not in (BOS, EOS)]
    assert tokens == [t for d in documents for s in d for t in s]
    budget = max_length - 2
    for document in documents:  # a sentence that fits is never split
        for sentence in document:
            if len(sentence) <= budget:
                assert any(all(t in e for t in sentence) for e in examples)


def test_documents_are_separated_and_examples_are_full():
    documents, origin = corpus()
    examples = pack_full_sentences(documents, max_length=40, start_id=BOS, end_id=EOS)
    crossings = 0
    for example in examples:
        body = example[1:-1]
        for i, token in enumerate(body):
            if token == EOS:  # separators only between two documents
                assert 0 < i < len(body) - 1
                assert origin[body[i - 1]][0] < origin[body[i + 1]][0]
                crossings += 1
            elif i and body[i - 1] != EOS:
                assert origin[body[i - 1]][0] == origin[token][0]
    assert crossings > 0
    sentences = {s[0]: s for d in documents for s in d}
    for example, following in zip(examples, examples[1:]):  # greedy: the next one did not fit
        first = following[1]
        separator = origin[example[-2]][0] != origin[first][0]
        assert len(example) - 2 + separator + len(sentences[first]) > 38


def test_long_sentences_are_cut_and_lengths_checked():
    examples = pack_full_sentences([[list(range(10, 35))]], max_length=12)
    assert [len(e) for e in examples] == [12, 12, 7]
    with pytest.raises(ConfigError, match="max_length 2"):
        pack_full_sentences([[[5]]], max_length=2)


def test_records_read_back_with_new_masks_each_time(tmp_path):
    documents, _ = corpus(max_sentence=12)
    paths, count = write_full_sentence_records(
        documents,
        str(tmp_path / "full"),
        num_shards=2,
        seq_length=32,
        rng=np.random.default_rng(0),
        start_id=BOS,
        end_id=EOS,
        pad_id=PAD,
    )
    assert count == len(pack_full_sentences(documents, 32, BOS, EOS))
    dynamic = {
        "vocab_size": 600,
        "mask_id": MASK,
        "special_ids": [BOS, PAD, EOS],
        "mask_rate": 0.15,
    }

    def read(seed):
        ds = pretraining_dataset(
            str(tmp_path / "full-*"),
            batch_size=count,
            seq_length=32,
            max_predictions=6,
            dynamic=dynamic,
            seed=seed,
            training=False,
        )
        return next(iter(ds))

    # The masks are keyed by the seed and the batch's index: another seed draws anew,
    # the same seed (a resumed run) draws the same.
    first, second, again = read(0), read(1), read(0)
    np.testing.assert_array_equal(first["input_mask"], second["input_mask"])
    assert not np.array_equal(first["masked_lm_positions"], second["masked_lm_positions"])
    np.testing.assert_array_equal(first["masked_lm_positions"], again["masked_lm_positions"])
    np.testing.assert_array_equal(first["input_ids"], again["input_ids"])
    for batch in (first, second):
        assert not batch["segment_ids"].numpy().any()
        mask = batch["input_mask"].numpy().astype(bool)
        weights = batch["masked_lm_weights"].numpy() > 0
        assert weights.sum() > 0
        positions = batch["masked_lm_positions"].numpy()
        rows = np.nonzero(weights)[0]
        assert mask[rows, positions[weights]].all()
        assert not np.isin(batch["masked_lm_ids"].numpy()[weights], [BOS, PAD, EOS]).any()
