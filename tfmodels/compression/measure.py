"""What a compressed model costs and scores: parameters, latency, logits of Keras and TFLite models.

The compression table compares every variant on the same inputs in one process
(the machine is noisy), so latency is a median over repeated batch-1 calls: of a
``tf.function`` for Keras models (graph mode, as served) and of the ai-edge-litert
interpreter for TFLite files.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

from tfmodels.tasks.classification import cut_features, predict_logits


def count_nonzero_params(model):
    """Parameters, and how many of them are not zero (pruning leaves zeros behind)."""
    values = [w.numpy() for w in model.weights]
    return sum(v.size for v in values), sum(int(np.count_nonzero(v)) for v in values)


def synthetic_features(seq_length, batch_size=1, vocab_size=1000, seed=0):
    """Random ids with a full mask: a worst-case (no padding) latency input."""
    rng = np.random.default_rng(seed)
    return {
        "input_ids": rng.integers(
            1000, 1000 + vocab_size, (batch_size, seq_length), dtype=np.int32
        ),
        "input_mask": np.ones((batch_size, seq_length), np.int32),
        "segment_ids": np.zeros((batch_size, seq_length), np.int32),
    }


def _median_ms(call, repeats, warmup=3):
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def keras_call(model, features):
    """A no-argument call of ``model`` on ``features`` in a traced ``tf.function``."""
    features = {k: tf.constant(v) for k, v in features.items() if k in model.input}
    call = tf.function(lambda f: model(f, training=False))
    return lambda: tf.nest.map_structure(lambda t: t.numpy(), call(features))


def keras_latency_ms(model, features, repeats=20):
    """Median latency of ``model`` on ``features`` in a traced ``tf.function``."""
    return _median_ms(keras_call(model, features), repeats)


def _runner(path, num_threads):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=path, num_threads=num_threads).get_signature_runner()


def tflite_call(path, features, num_threads=2):
    """A no-argument call of the TFLite file at ``path`` on ``features``."""
    runner = _runner(path, num_threads)
    return lambda: runner(**features)


def tflite_latency_ms(path, features, repeats=20, num_threads=2):
    return _median_ms(tflite_call(path, features, num_threads), repeats)


def tflite_logits(path, features, num_threads=2):
    """Logits of a batch-1 TFLite classifier for every row of ``features`` ([N, S] arrays)."""
    runner = _runner(path, num_threads)
    rows = len(next(iter(features.values())))
    return np.concatenate(
        [runner(**{k: v[i : i + 1] for k, v in features.items()})["logits"] for i in range(rows)]
    )


def keras_logits(model, features, batch_size=32):
    """Logits of a Keras classifier for every row of ``features`` ([N, S] arrays), each
    batch cut to its longest row (the same logits as at full length)."""
    dataset = tf.data.Dataset.from_tensor_slices(features).batch(batch_size)
    return predict_logits(model, dataset.map(cut_features))
