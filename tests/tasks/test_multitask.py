"""MT-DNN pieces: task sampling, the ranking and regression heads, shared encoder, saving."""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import max_abs_diff
from tfmodels.errors import ConfigError
from tfmodels.models import bert
from tfmodels.tasks import multitask, task_sampling
from tfmodels.tasks.glue import get_task

CONFIG = bert.Config(
    vocab_size=64,
    hidden_size=16,
    num_layers=1,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
)
HEADS = {
    "cola": multitask.HeadSpec("classification", 2),
    "stsb": multitask.HeadSpec("regression"),
    "qnli": multitask.HeadSpec("ranking", positive=0),
}


def features(batch=4, seq=8, seed=0):
    ids = np.random.default_rng(seed).integers(1, CONFIG.vocab_size, (batch, seq))
    return {
        "input_ids": tf.constant(ids, tf.int32),
        "input_mask": tf.ones([batch, seq], tf.int32),
        "segment_ids": tf.zeros([batch, seq], tf.int32),
    }


def draw_counts(mixed, n):
    return np.bincount(list(mixed.take(n).as_numpy_iterator()), minlength=3) / n


def test_sampling_weights_and_proportions():
    sizes = [100, 300, 600]
    np.testing.assert_allclose(task_sampling.task_weights(sizes), [0.1, 0.3, 0.6])
    np.testing.assert_allclose(task_sampling.task_weights(sizes, float("inf")), [1 / 3] * 3)
    t2 = np.sqrt(sizes) / np.sqrt(sizes).sum()
    np.testing.assert_allclose(task_sampling.task_weights(sizes, 2.0), t2)
    datasets = [tf.data.Dataset.from_tensors(np.int64(i)).repeat() for i in range(3)]
    n = 6000  # binomial std <= 0.0065: a tolerance of 0.025 is about 4 sigma
    np.testing.assert_allclose(
        draw_counts(task_sampling.sample_tasks(datasets, sizes, 1.0, 1), n),
        [0.1, 0.3, 0.6],
        atol=0.025,
    )
    np.testing.assert_allclose(
        draw_counts(task_sampling.sample_tasks(datasets, sizes, float("inf"), 2), n),
        [1 / 3] * 3,
        atol=0.025,
    )
    # Algorithm 1: every epoch holds exactly each task's batches, in a shuffled order.
    epochs = list(
        task_sampling.shuffled_epochs(datasets, [1, 3, 6], seed=3).take(30).as_numpy_iterator()
    )
    for e in range(3):
        assert np.bincount(epochs[10 * e : 10 * e + 10], minlength=3).tolist() == [1, 3, 6]
    assert epochs[:10] != sorted(epochs[:10]) or epochs[10:20] != sorted(epochs[10:20])
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        task_sampling.task_weights(sizes, 0.0)
    with pytest.raises(ConfigError, match="unknown sampling 'random'"):
        task_sampling.mix_tasks(datasets, sizes, 4, sampling="random")


def test_ranking_loss_is_a_softmax_over_the_question_candidates():
    scores = tf.Variable([2.0, 0.5, -1.0, 0.3])
    relevance = tf.constant([1.0, 0.0, 0.0, 1.0])
    groups = tf.constant([7, 7, 7, 9])  # question 7: three candidates; question 9: one
    with tf.GradientTape() as tape:
        loss = multitask.ranking_loss(scores, relevance, groups)
    s = scores.numpy()
    softmax_term = -np.log(np.exp(s[0]) / np.exp(s[:3]).sum())
    binary_term = np.log1p(np.exp(-s[3]))  # a group of one: sigmoid cross-entropy
    assert float(loss) == pytest.approx((softmax_term + binary_term) / 2, rel=1e-5)
    grad = tape.gradient(loss, scores).numpy()
    assert grad[0] < 0 and grad[3] < 0  # descent raises the positives...
    assert grad[1] > 0 and grad[2] > 0  # ...and lowers the negatives
    assert grad[1] > grad[2]  # the stronger negative more
    # A group of one is binary classification, positive or negative.
    one = multitask.ranking_loss(tf.constant([0.7]), tf.constant([0.0]), tf.constant([3]))
    assert float(one) == pytest.approx(np.log1p(np.exp(0.7)), rel=1e-5)
    # gamma sharpens the softmax; shifting a group's scores does not change it.
    shifted = multitask.ranking_loss(tf.constant([12.0, 10.5, 9.0]), relevance[:3], groups[:3])
    assert float(shifted) == pytest.approx(softmax_term, rel=1e-5)
    # Decisions: argmax in a group of several, threshold 0 for a single candidate.
    assert multitask.ranking_predictions(
        [0.1, 0.9, -3.0, 0.2, -0.2], [0, 0, 0, 1, 2], positive=0
    ).tolist() == [1, 0, 1, 0, 1]


def test_regression_head_is_linear_and_trained_with_mse():
    model = multitask.MultiTaskModel(bert.BertModel(CONFIG), HEADS)
    x = features()
    logits = model(x, training=False)["stsb"]
    assert logits.shape == (4, 1)
    encoder_out = model.encoder(x, training=False)["pooled_output"]
    dense = model.heads["stsb"].classifier_head.out
    expected = encoder_out @ dense.kernel + dense.bias  # w^T x + b, no sigmoid
    assert max_abs_diff(logits, expected) < 1e-6
    labels = tf.constant([0.0, 1.0, 4.0, 5.0])
    targets = {"labels": labels, "group": tf.zeros([4], tf.int32)}
    loss = multitask.head_loss(HEADS["stsb"], logits, targets)
    assert float(loss) == pytest.approx(
        float(tf.reduce_mean((logits[:, 0] - labels) ** 2)), rel=1e-5
    )


def test_heads_share_one_copy_of_the_encoder():
    encoder = bert.BertModel(CONFIG)
    model = multitask.MultiTaskModel(encoder, HEADS)
    ids = [id(v) for v in model.trainable_variables]
    head_vars = sum(len(h.trainable_variables) for h in model.heads.values())
    assert len(ids) == len(set(ids)) == len(encoder.trainable_variables) + head_vars
    assert head_vars == 3 * 2  # one Dense (kernel, bias) per task
    encoder_ids = {id(v) for v in encoder.trainable_variables}
    for task in HEADS:
        view = model.task_model(task)
        assert encoder_ids <= {id(v) for v in view.trainable_variables}
        assert max_abs_diff(view(features())["logits"], model(features())[task]) < 1e-6
    # One step of the multi-task loss on a cola batch moves the encoder for every head.
    before = encoder.embedding_layer.word_embeddings.numpy().copy()
    out_before = model(features())["cola"]
    loss_fn = multitask.multitask_loss_fn(model.head_specs)
    batch = (
        features(),
        {
            "task": tf.zeros([4], tf.int32),
            "labels": tf.constant([0.0, 1, 0, 1]),
            "group": tf.range(4),
        },
    )
    with tf.GradientTape() as tape:
        loss, _ = loss_fn(model, batch, training=False)
    grads = dict(
        zip(
            [v.name for v in model.trainable_variables],
            tape.gradient(loss, model.trainable_variables),
        )
    )
    tf.keras.optimizers.SGD(1.0).apply_gradients(
        [(g, v) for g, v in zip(grads.values(), model.trainable_variables) if g is not None]
    )
    assert not np.allclose(before, encoder.embedding_layer.word_embeddings.numpy())
    assert float(loss) == pytest.approx(
        float(multitask.head_loss(HEADS["cola"], out_before, batch[1])), rel=1e-5
    )
    config = model.get_config()
    again = multitask.MultiTaskModel.from_config(config)
    assert again.get_config() == config and len(again.trainable_variables) == len(ids)


def test_task_heads_follow_the_task_and_save_as_classifiers(tmp_path):
    assert multitask.head_spec_for_task(get_task("stsb")).kind == "regression"
    assert multitask.head_spec_for_task(get_task("qnli")) == multitask.HeadSpec("ranking", 1, 0)
    assert multitask.head_spec_for_task(get_task("mnli")).num_labels == 3
    with pytest.raises(ConfigError, match="a regression head does not fit"):
        multitask.head_spec_for_task(get_task("cola"), "regression")
    model = multitask.MultiTaskModel(bert.BertModel(CONFIG), HEADS)
    x = features()
    out = model(x)
    for task, labels in (
        ("qnli", ["entailment", "not_entailment"]),
        ("cola", ["0", "1"]),
        ("stsb", None),
    ):
        path = str(tmp_path / task)
        tfmodels.save_pretrained(multitask.task_classifier(model, task, labels), path)
        loaded = tfmodels.from_pretrained(path)
        assert loaded.architecture == "BertForSequenceClassification"
        logits = loaded(x)["logits"].numpy()
        if task == "qnli":  # [score, 0]: P(entailment) = sigmoid(score)
            assert logits.shape == (4, 2) and loaded.label_names == labels
            assert max_abs_diff(logits[:, :1], out[task]) < 1e-5
            assert np.all(logits[:, 1] == 0)
        else:
            assert max_abs_diff(logits, out[task]) < 1e-5
