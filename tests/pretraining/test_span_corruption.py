"""T5 span corruption: the noise mask's counts and statistics, the sentinel layout, the
sequence lengths, the records, and the shared seq2seq loss."""

import numpy as np
import pytest
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.pretraining import seq2seq, span_corruption
from tfmodels.pretraining.records import RecordOptions, Vocabulary
from tfmodels.pretraining.span_corruption import (
    corrupt,
    random_spans_helper,
    random_spans_noise_mask,
    sentinel_ids,
)

# T5's layout: <pad> 0, </s> 1, <unk> 2, pieces, then <extra_id_99> ... <extra_id_0> last.
T5_TOKENS = (
    ["<pad>", "</s>", "<unk>"]
    + [f"w{i}" for i in range(60)]
    + [f"<extra_id_{i}>" for i in range(99, -1, -1)]
)
T5_VOCAB = Vocabulary(
    T5_TOKENS, cls_token="</s>", sep_token="</s>", pad_token="<pad>", mask_token="<extra_id_0>"
)
EOS = 1


def spans(mask):
    """(start, length) of the runs of True."""
    runs, start = [], None
    for i, flag in enumerate(list(mask) + [False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((start, i - start))
            start = None
    return runs


def reinsert(inputs, targets, sentinels):
    """The original sequence from the corrupted inputs and targets (both without EOS)."""
    replaced, current = {}, None
    for token in targets:
        if token in sentinels:
            current = token
            replaced[current] = []
        else:
            replaced[current].append(token)
    return [t for token in inputs for t in (replaced[token] if token in sentinels else [token])]


@pytest.mark.parametrize("length", [1, 2, 5, 20, 100, 568])
def test_noise_mask_has_the_reference_counts_and_layout(length):
    rng = np.random.default_rng(length)
    mask = random_spans_noise_mask(length, rng)
    assert mask.shape == (length,)
    n = max(length, 2)
    num_noise = min(max(round(n * 0.15), 1), n - 1)
    num_spans = max(round(num_noise / 3), 1)
    if length >= 2:
        assert mask.sum() == num_noise
        assert len(spans(mask)) == num_spans
        assert not mask[0] and mask[-1]  # starts with non-noise, ends with noise
    else:
        assert not mask.any()  # T5 computes over length 2 and keeps the first position


def test_noise_density_and_mean_span_length():
    rng = np.random.default_rng(0)
    noise, total, lengths = 0, 0, []
    for _ in range(2000):
        mask = random_spans_noise_mask(int(rng.integers(100, 600)), rng)
        noise += mask.sum()
        total += mask.size
        lengths.extend(length for _, length in spans(mask))
    density, mean_span = noise / total, float(np.mean(lengths))
    print(f"span corruption: noise density {density:.4f}, mean span length {mean_span:.3f}")
    assert abs(density - 0.15) < 0.01
    assert abs(mean_span - 3.0) < 0.2
    # the span lengths are not constant: a random segmentation spreads them
    assert np.std(lengths) > 1.0 and min(lengths) == 1


def test_sentinels_interleave_and_reinsert_to_the_original():
    sentinels = sentinel_ids(T5_VOCAB)
    assert len(sentinels) == 100
    assert sentinels[0] == len(T5_TOKENS) - 1 == T5_VOCAB.ids["<extra_id_0>"]
    assert sentinels[5] == len(T5_TOKENS) - 6
    rng = np.random.default_rng(1)
    for _ in range(50):
        ids = list(rng.integers(3, 63, size=int(rng.integers(10, 200))))
        mask = random_spans_noise_mask(len(ids), rng)
        inputs, targets = corrupt(ids, mask, sentinels, EOS)
        assert inputs[-1] == EOS and targets[-1] == EOS
        inputs, targets = inputs[:-1], targets[:-1]
        n = len(spans(mask))
        # inputs: the k-th noise span is the k-th sentinel, in order; targets start with one
        assert [t for t in inputs if t in sentinels] == sentinels[:n]
        assert [t for t in targets if t in sentinels] == sentinels[:n]
        assert targets[0] == sentinels[0]
        assert len(targets) == mask.sum() + n and len(inputs) == len(ids) - mask.sum() + n
        assert reinsert(inputs, targets, set(sentinels)) == ids


def test_sequence_lengths_fill_the_inputs():
    assert random_spans_helper(512) == (568, 114)  # T5's numbers for inputs_length 512
    for seq_length in (8, 16, 64, 512):
        tokens_length, targets_length = random_spans_helper(seq_length)
        rng = np.random.default_rng(seq_length)
        for length in range(1, tokens_length + 1):  # every chunk, the last short one included
            inputs, targets = corrupt(
                list(range(3, 3 + length)),
                random_spans_noise_mask(length, rng),
                list(range(200, 300)),
                EOS,
            )
            assert len(inputs) <= seq_length and len(targets) <= targets_length
            if length == tokens_length:
                assert len(inputs) == seq_length


def test_a_vocabulary_without_sentinels_is_refused():
    vocab = Vocabulary(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a"])
    with pytest.raises(ConfigError, match="extra_id_0"):
        sentinel_ids(vocab)
    with pytest.raises(ConfigError, match="mask_rate"):
        next(
            span_corruption.span_corruption_examples(
                [[["w1"]]], T5_VOCAB, RecordOptions(16, mask_rate=0.3), np.random.default_rng(0)
            )
        )


def test_records_parse_and_hold_the_shifted_targets():
    rng = np.random.default_rng(2)
    documents = [
        [
            [f"w{i}" for i in rng.integers(0, 60, size=int(rng.integers(3, 12)))]
            for _ in range(int(rng.integers(1, 5)))
        ]
        for _ in range(12)
    ]
    options = RecordOptions(seq_length=16, dupe_factor=1)
    examples = list(span_corruption.span_corruption_examples(documents, T5_VOCAB, options, rng))
    tokens_length, targets_length = random_spans_helper(16)
    stream = [T5_VOCAB.ids[t] for d in documents for s in d for t in s]
    assert len(examples) == -(-len(stream) // tokens_length)

    spec = {
        name: tf.io.FixedLenFeature([16], tf.int64)
        for name in ("input_ids", "input_mask", "segment_ids")
    }
    spec.update(span_corruption.span_corruption_features(16, 20))
    parsed = tf.io.parse_example([e.SerializeToString() for e in examples], spec)
    parsed = {k: v.numpy() for k, v in parsed.items()}
    assert parsed["decoder_input_ids"].shape == (len(examples), targets_length)
    sentinels = sentinel_ids(T5_VOCAB)
    chunks = []
    for i in range(len(examples)):
        n_in, n_out = parsed["input_mask"][i].sum(), parsed["decoder_input_mask"][i].sum()
        labels = parsed["labels"][i]
        assert (labels[n_out:] == seq2seq.IGNORE).all() and (labels[:n_out] >= 0).all()
        assert parsed["decoder_input_ids"][i][0] == 0  # T5 starts the decoder with <pad>
        np.testing.assert_array_equal(parsed["decoder_input_ids"][i][1:n_out], labels[: n_out - 1])
        assert (parsed["input_ids"][i][n_in:] == 0).all()
        chunks.append(
            reinsert(
                list(parsed["input_ids"][i][: n_in - 1]), list(labels[: n_out - 1]), set(sentinels)
            )
        )
    # the chunks, in some order, are the concatenated documents
    assert sorted(chunks) == sorted(
        stream[i : i + tokens_length] for i in range(0, len(stream), tokens_length)
    )


class FakeModel:
    """Returns chosen logits, recording the features it was given."""

    def __init__(self, logits):
        self.logits = tf.constant(logits, tf.float32)
        self.features = None

    def __call__(self, features, training=False):
        self.features = features
        return {"logits": self.logits}


def test_seq2seq_loss_scores_labels_and_skips_padding():
    labels = np.array([[3, 1, 2, -100], [2, 2, -100, -100]])
    perfect = np.full((2, 4, 5), -30.0)
    for b in range(2):
        for t in range(4):
            perfect[b, t, labels[b, t] if labels[b, t] >= 0 else 4] = 30.0
    batch = {
        "input_ids": tf.ones([2, 6], tf.int32),
        "input_mask": tf.ones([2, 6], tf.int32),
        "decoder_input_ids": tf.zeros([2, 4], tf.int32),
        "decoder_input_mask": tf.constant((labels != -100).astype(np.int32)),
        "labels": tf.constant(labels, tf.int32),
    }
    model = FakeModel(perfect)
    loss, metrics = seq2seq.seq2seq_lm_loss(model, batch, training=False)
    assert float(loss) < 1e-6 and float(metrics["lm_accuracy"]) > 0.99
    assert float(metrics["lm_tokens"]) == 5
    assert float(metrics["tokens"]) == 12  # the encoder's real input tokens
    assert set(model.features) == set(seq2seq.FEATURES)
    # garbage at the padded positions changes nothing; a wrong real token does
    noisy = perfect.copy()
    noisy[0, 3] = np.random.default_rng(0).normal(size=5) * 10
    noisy[1, 2:] = 50.0
    assert float(seq2seq.seq2seq_lm_loss(FakeModel(noisy), batch, False)[0]) < 1e-6
    wrong = perfect.copy()
    wrong[1, 0] = 0.0  # uniform over 5 classes at one of the 5 scored tokens
    loss, _ = seq2seq.seq2seq_lm_loss(FakeModel(wrong), batch, False)
    np.testing.assert_allclose(float(loss), np.log(5) / 5, rtol=1e-4)
