"""Causal LM: the blocks and records, the shifted loss on chosen logits, and ten steps of a
tiny GPT-2 that lower it."""

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfmodels.pretraining import causal_lm
from tfmodels.pretraining.records import RecordOptions, Vocabulary
from tfmodels.pretraining.seq2seq import IGNORE

GPT_TOKENS = ["<|endoftext|>"] + [f"w{i}" for i in range(40)]
# GPT-2 has one special token; it serves as separator and padding
GPT_VOCAB = Vocabulary(
    GPT_TOKENS,
    cls_token="<|endoftext|>",
    sep_token="<|endoftext|>",
    pad_token="<|endoftext|>",
    mask_token="<|endoftext|>",
)
EOS = "<|endoftext|>"


def sample_documents(rng, count=8):
    return [
        [
            [f"w{i}" for i in rng.integers(0, 40, size=int(rng.integers(2, 9)))]
            for _ in range(int(rng.integers(1, 5)))
        ]
        for _ in range(count)
    ]


def parse(examples, seq_length):
    spec = {
        name: tf.io.FixedLenFeature([seq_length], tf.int64)
        for name in ("input_ids", "input_mask", "segment_ids")
    }
    spec.update(causal_lm.causal_lm_features(seq_length, 20))
    parsed = tf.io.parse_example([e.SerializeToString() for e in examples], spec)
    return {k: tf.cast(v, tf.int32) for k, v in parsed.items()}


def test_blocks_concatenate_back_to_the_stream():
    rng = np.random.default_rng(0)
    documents = sample_documents(rng)
    stream = causal_lm.token_stream(documents, EOS)
    assert stream.count(EOS) == len(documents) - 1  # between documents only
    assert [t for t in stream if t != EOS] == [t for d in documents for s in d for t in s]
    pieces = causal_lm.blocks(stream, 16)
    assert sum(pieces, []) == stream
    assert all(len(p) == 16 for p in pieces[:-1]) and 0 < len(pieces[-1]) <= 16

    examples = list(
        causal_lm.causal_lm_examples(
            documents, GPT_VOCAB, RecordOptions(16), np.random.default_rng(1)
        )
    )
    parsed = {k: v.numpy() for k, v in parse(examples, 16).items()}
    assert len(examples) == len(pieces)
    rows = []
    for ids, mask, labels in zip(parsed["input_ids"], parsed["input_mask"], parsed["labels"]):
        n = mask.sum()
        assert (labels[:n] == ids[:n]).all() and (labels[n:] == IGNORE).all()
        rows.append([GPT_TOKENS[i] for i in ids[:n]])
    assert sorted(rows) == sorted(pieces)  # shuffled, each block once
    assert (parsed["input_mask"].sum(1) < 16).sum() == (len(pieces[-1]) < 16)  # one padded


class FakeModel:
    def __init__(self, logits):
        self.logits = tf.constant(logits, tf.float32)

    def __call__(self, features, training=False):
        return {"logits": self.logits}


def test_loss_is_shifted_and_ignores_padding():
    ids = np.array([[1, 2, 3, 4, 5], [5, 4, 3, 0, 0]])
    mask = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]])
    labels = np.where(mask == 1, ids, IGNORE)
    vocab = 6
    perfect = np.full((2, 5, vocab), -30.0)
    perfect[:, :-1][np.arange(2)[:, None], np.arange(4), ids[:, 1:]] = 30.0  # t predicts t + 1
    batch = {
        "input_ids": tf.constant(ids),
        "input_mask": tf.constant(mask),
        "labels": tf.constant(labels),
    }
    loss, metrics = causal_lm.causal_lm_loss(FakeModel(perfect), batch, training=False)
    assert float(loss) < 1e-6 and float(metrics["lm_accuracy"]) > 0.99
    assert float(metrics["lm_tokens"]) == 4 + 2  # no prediction from the last real token
    assert float(metrics["tokens"]) == 5 + 3  # the real input tokens
    # unshifted logits (t predicts t) are badly wrong
    same = np.full((2, 5, vocab), -30.0)
    same[np.arange(2)[:, None], np.arange(5), ids] = 30.0
    assert float(causal_lm.causal_lm_loss(FakeModel(same), batch, False)[0]) > 10
    # anything at padded targets or at the last position is ignored, with or without labels
    noisy = perfect.copy()
    noisy[1, 2:] = np.random.default_rng(0).normal(size=(3, vocab)) * 10
    noisy[0, -1] = 7.0
    assert float(causal_lm.causal_lm_loss(FakeModel(noisy), batch, False)[0]) < 1e-6
    no_labels = {k: v for k, v in batch.items() if k != "labels"}
    assert float(causal_lm.causal_lm_loss(FakeModel(noisy), no_labels, False)[0]) < 1e-6
    wrong = perfect.copy()
    wrong[0, 0] = 0.0  # uniform at one of the 6 scored tokens
    np.testing.assert_allclose(
        float(causal_lm.causal_lm_loss(FakeModel(wrong), batch, False)[0]),
        np.log(vocab) / 6,
        rtol=1e-4,
    )


def test_ten_steps_of_a_tiny_gpt2_lower_the_loss():
    from tfmodels.models import gpt2

    keras.utils.set_random_seed(0)
    config = gpt2.Config(
        vocab_size=len(GPT_TOKENS),
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        hidden_dropout=0.0,
        attention_dropout=0.0,
        embedding_dropout=0.0,
    )
    model = gpt2.GPT2LMHeadModel(config)
    rng = np.random.default_rng(2)
    examples = list(
        causal_lm.causal_lm_examples(sample_documents(rng, 12), GPT_VOCAB, RecordOptions(16), rng)
    )
    batch = parse(examples, 16)
    optimizer = keras.optimizers.Adam(0.01)
    losses = []
    for _ in range(10):
        with tf.GradientTape() as tape:
            loss, _ = causal_lm.causal_lm_loss(model, batch, training=True)
        optimizer.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        )
        losses.append(float(loss))
    print(f"tiny GPT-2 causal LM loss: {losses[0]:.3f} -> {losses[-1]:.3f}")
    assert abs(losses[0] - np.log(len(GPT_TOKENS))) < 0.5  # starts near uniform
    assert losses[-1] < losses[0] - 0.3
