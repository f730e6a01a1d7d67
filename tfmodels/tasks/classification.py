"""Sentence(-pair) classification and regression: input pipeline, loss, evaluation.

Examples go through the in-graph preprocessor inside ``tf.data`` (batched, so the
tokenizer runs vectorized); each batch is padded to its own length and training
batches are length-bucketed (:mod:`batching`); evaluation sorts the examples by length
and puts the results back in order. Logits come from any model whose outputs have
``logits`` [B, C]. ``C = 1`` is regression (mean squared error), else softmax
cross-entropy.
"""

import weakref

import numpy as np
import tensorflow as tf

from tfmodels.tasks import batching
from tfmodels.tasks.metrics import classification_metrics
from tfmodels.training import trainer
from tfmodels.training.distribution import on_replicas


def make_dataset(
    examples,
    preprocessor,
    batch_size,
    training=False,
    seed=0,
    shuffle_buffer=10000,
    with_labels=True,
):
    """``(features, labels)`` batches (``features`` alone without labels), each padded
    to its own length. Training data is shuffled, repeated and length-bucketed;
    otherwise the examples keep their order."""
    texts = (examples.text_a,) if examples.text_b is None else (examples.text_a, examples.text_b)
    items = (texts, examples.labels) if with_labels else (texts,)
    ds = tf.data.Dataset.from_tensor_slices(items)
    if not training:
        return tokenize_batches(ds.batch(batch_size), preprocessor).map(cut_features)
    return batching.training_batches(
        ds,
        len(examples),
        batch_size,
        lambda features, *rest: batching.mask_lengths(features["input_mask"]),
        cut_features,
        seed=seed,
        shuffle_buffer=shuffle_buffer,
        prepare=lambda windows: tokenize_batches(windows, preprocessor),
    )


def cut_features(features, *rest):
    """A ``(features, *rest)`` batch with ``features`` cut to the batch's longest text."""
    cut = batching.cut_to_longest(features, batching.mask_lengths(features["input_mask"]))
    return (cut, *rest) if rest else cut


def tokenize_batches(ds, preprocessor):
    """Batches ``(texts, *rest)`` -> ``(features, *rest)``; ``texts`` is a 1- or 2-tuple."""

    @tf.autograph.experimental.do_not_convert  # plain TF ops; conversion cost seconds
    def preprocess(texts, *rest):
        features = preprocessor(texts if len(texts) > 1 else texts[0])
        return (features, *rest) if rest else features

    return ds.map(preprocess, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def loss_fn(model, batch, training):
    """Cross-entropy (or MSE for one output) and accuracy for one replica's batch."""
    return outputs_loss(model(batch[0], training=training), batch)


def outputs_loss(outputs, batch):
    """:func:`loss_fn` from the model's outputs on ``batch = (features, labels)``, with
    the batch's real tokens counted (the Trainer shows tokens/s)."""
    loss, metrics = logits_loss(outputs["logits"], batch[1])
    return loss, {**metrics, **token_count(batch[0])}


def token_count(features):
    """``{"tokens": real (unpadded) input tokens}`` of a feature batch, where it has a mask."""
    mask = features.get("input_mask") if isinstance(features, dict) else None
    return {} if mask is None else trainer.token_count(mask)


def logits_loss(logits, labels):
    """The loss of :func:`loss_fn` from logits [B, C]: MSE when C = 1, else cross-entropy."""
    logits = tf.cast(logits, tf.float32)
    if logits.shape[-1] == 1:
        loss = tf.reduce_mean(tf.square(logits[:, 0] - tf.cast(labels, tf.float32)))
        return loss, {}
    loss = tf.reduce_mean(
        tf.keras.losses.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    )
    correct = tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32))
    return loss, {"accuracy": tf.reduce_mean(tf.cast(correct, tf.float32))}


_PREDICT_STEPS = weakref.WeakKeyDictionary()


def _predict_step(model):
    """One traced inference function per model and strategy, reused across evaluations;
    each batch is shared out over the strategy's replicas."""
    strategy = tf.distribute.get_strategy()
    cached = _PREDICT_STEPS.get(model)
    if cached is None or cached[0] is not strategy:

        def logits(features):
            return tf.cast(model(features, training=False)["logits"], tf.float32)

        step = batching.for_any_batch_shape(lambda features: on_replicas(logits, features))
        _PREDICT_STEPS[model] = cached = (strategy, step)
    return cached[1]


def predict_logits(model, dataset):
    """Logits for every example of a (features-only or (features, labels)) dataset."""
    step = _predict_step(model)
    outputs = []
    for batch in dataset:
        features = batch[0] if isinstance(batch, tuple) else batch
        outputs.append(step(features).numpy())
    return np.concatenate(outputs)


def predictions_from_logits(logits):
    return logits[:, 0] if logits.shape[-1] == 1 else np.argmax(logits, -1)


def read_dev_files(task, data_dir):
    """``[(split, Examples)]`` of a task's dev files (each row checked)."""
    return [(split, task.read(data_dir, file_name)) for split, file_name in task.dev_files]


def predict_examples(model, examples, preprocessor, batch_size):
    """Logits [N, C] of ``examples`` in their order (computed in batches of similar length)."""
    return OrderedBatches(examples, preprocessor, batch_size).logits(model)


class OrderedBatches:
    """Examples tokenized once into batches of similar length (sorted by text length),
    with the order to put their results back in."""

    def __init__(self, examples, preprocessor, batch_size):
        self.order = batching.length_order(examples.text_a, examples.text_b)
        sorted_examples = examples.take(self.order)
        self.batches = list(
            make_dataset(sorted_examples, preprocessor, batch_size, with_labels=False)
        )

    def logits(self, model):
        """The model's logits [N, C], in the examples' order."""
        return batching.in_order(predict_logits(model, self.batches), self.order)


class DevSets:
    """A task's dev splits, read and tokenized once: a run evaluates at every checkpoint,
    and tokenizing again each time cost more than the evaluation itself."""

    def __init__(self, task, preprocessor, data_dir, batch_size, examples=None):
        """``examples``: ``[(split, Examples)]`` read already (default: read here)."""
        self.task = task
        self.splits = [
            (split, examples.labels, OrderedBatches(examples, preprocessor, batch_size))
            for split, examples in examples or read_dev_files(task, data_dir)
        ]

    def evaluate(self, model, only=None):
        """Metrics on each dev split (``{split}/{metric}``), or on the split named
        ``only``."""
        results = {}
        for split, labels, batches in self.splits:
            if only is not None and split != only:
                continue
            logits = batches.logits(model)
            metrics = classification_metrics(
                labels, predictions_from_logits(logits), self.task.metric
            )
            results.update({f"{split}/{k}": v for k, v in metrics.items()})
        return results


def evaluate(task, model, preprocessor, data_dir, batch_size):
    """Metrics on each of the task's dev splits (``{split}/{metric}``)."""
    return DevSets(task, preprocessor, data_dir, batch_size).evaluate(model)
