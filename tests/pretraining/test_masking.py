"""Masked-LM corruption: rates, 80/10/10, whole words, labels exactly where tokens changed."""

import numpy as np
import tensorflow as tf

from tfmodels.pretraining.masking import dynamic_masking, mask_tokens, word_groups

VOCAB = (
    ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    + [f"w{i}" for i in range(200)]
    + [f"##p{i}" for i in range(50)]
)


def sample_sequence(rng, length=100):
    words = []
    while len(words) < length - 3:
        words.append(VOCAB[rng.integers(5, 205)])
        words.extend(VOCAB[205 + rng.integers(50)] for _ in range(rng.integers(0, 3)))
    words = words[: length - 3]
    half = len(words) // 2
    return ["[CLS]", *words[:half], "[SEP]", *words[half:], "[SEP]"]


def test_static_masking_rates_and_label_positions():
    rng = np.random.default_rng(0)
    chosen = mask_count = random_count = kept = 0
    total = 0
    for _ in range(400):
        tokens = sample_sequence(rng)
        masked, positions, originals = mask_tokens(tokens, VOCAB, rng, max_predictions=30)
        total += len(tokens)
        chosen += len(positions)
        assert positions == sorted(positions)
        assert [tokens[p] for p in positions] == originals
        changed = [i for i, (a, b) in enumerate(zip(tokens, masked)) if a != b]
        assert set(changed) <= set(positions)  # every change is a label position
        for p in positions:
            assert tokens[p] not in ("[CLS]", "[SEP]")
            if masked[p] == "[MASK]":
                mask_count += 1
            elif masked[p] == tokens[p]:
                kept += 1
            else:
                random_count += 1
    assert abs(chosen / total - 0.15) < 0.01
    assert abs(mask_count / chosen - 0.8) < 0.03
    assert abs(random_count / chosen - 0.1) < 0.02
    assert abs(kept / chosen - 0.1) < 0.02


def test_whole_word_masking_takes_all_pieces_of_a_word():
    rng = np.random.default_rng(1)
    for _ in range(200):
        tokens = sample_sequence(rng, 60)
        _, positions, _ = mask_tokens(tokens, VOCAB, rng, whole_word=True)
        chosen = set(positions)
        for group in word_groups(tokens, {"[CLS]", "[SEP]"}, whole_word=True):
            assert set(group) <= chosen or not set(group) & chosen


def test_max_predictions_caps_the_count():
    rng = np.random.default_rng(2)
    _, positions, _ = mask_tokens(sample_sequence(rng, 500), VOCAB, rng, max_predictions=20)
    assert len(positions) == 20


def test_dynamic_masking_in_tf_data():
    rng = np.random.default_rng(3)
    batch, length = 64, 64
    ids = rng.integers(5, 255, size=(batch, length)).astype(np.int32)
    lengths = rng.integers(10, length + 1, size=batch)
    mask = (np.arange(length)[None] < lengths[:, None]).astype(np.int32)
    ids[:, 0] = 2
    ids[np.arange(batch), lengths - 1] = 3
    ids[mask == 0] = 0

    def draw(key):
        return dynamic_masking(
            tf.constant(ids),
            tf.constant(mask),
            vocab_size=len(VOCAB),
            mask_id=4,
            special_ids=[0, 2, 3],
            seed=[3, key],
            max_predictions=40,
        )

    out = draw(0)
    masked = out["input_ids"].numpy()
    positions = out["masked_lm_positions"].numpy()
    labels = out["masked_lm_ids"].numpy()
    weights = out["masked_lm_weights"].numpy()
    selectable = int(np.sum(lengths - 2))
    assert abs(weights.sum() / selectable - 0.15) < 0.03
    n_mask = n_same = 0
    for row in range(batch):
        real = positions[row][weights[row] > 0]
        np.testing.assert_array_equal(labels[row][weights[row] > 0], ids[row][real])
        changed = np.flatnonzero(masked[row] != ids[row])
        assert set(changed.tolist()) <= set(real.tolist())
        assert not set(real.tolist()) & {0, int(lengths[row]) - 1}  # never [CLS]/[SEP]
        assert np.all(mask[row][real] == 1)
        n_mask += int(np.sum(masked[row][real] == 4))
        n_same += int(np.sum(masked[row][real] == ids[row][real]))
    assert abs(n_mask / weights.sum() - 0.8) < 0.06
    assert abs(n_same / weights.sum() - 0.1) < 0.05  # kept (a random id rarely equals it)
    # Dynamic: a second draw masks other positions.
    again = draw(1)
    assert not np.array_equal(again["masked_lm_positions"].numpy(), positions)
    # Stateless: the same key draws the same masks (a resumed run re-masks alike).
    same = draw(0)
    for key, value in out.items():
        np.testing.assert_array_equal(same[key].numpy(), value.numpy())
    # Positions ascend, and a row's count is round(15% of its maskable tokens).
    for row in range(batch):
        real = positions[row][weights[row] > 0]
        assert np.all(np.diff(real) > 0)
        assert len(real) == min(40, max(1, round(0.15 * (lengths[row] - 2))))
