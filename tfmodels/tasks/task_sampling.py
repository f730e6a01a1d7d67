"""Which task's mini-batch comes next in multi-task training (MT-DNN, Liu et al. 2019).

Section 4 / Algorithm 1: every task's data is packed into mini-batches, the
mini-batches of all tasks are shuffled into one epoch, and each step trains on
one of them; so tasks are visited in proportion to their size, and each
mini-batch holds a single task. :func:`shuffled_epochs` is exactly that.
:func:`sample_tasks` draws independently with ``p_t ∝ n_t^(1/T)``: ``T = 1`` is
proportional (the paper in expectation), ``T = inf`` uniform, values in between
up-weight small tasks (the temperature of later multi-task work, e.g. T5 / XLM).

Both take per-task ``tf.data`` datasets that repeat forever and have the same
element structure, and leave the mixing to ``tf.data`` itself.
"""

import math

import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError

SAMPLINGS = ("epochs", "temperature")


def task_weights(sizes, temperature=1.0):
    """``p_t ∝ n_t^(1/T)`` as a numpy vector summing to 1; ``T = inf`` is uniform."""
    sizes = np.asarray(sizes, np.float64)
    if sizes.ndim != 1 or not len(sizes) or np.any(sizes <= 0):
        raise ConfigError(
            f"task sampling: every task needs at least one example, got sizes {sizes.tolist()}"
        )
    if not temperature > 0:  # also catches NaN
        raise ConfigError(
            f"multitask.temperature must be > 0 (1: proportional, .inf: uniform), got {temperature}"
        )
    if math.isinf(temperature):
        return np.full(len(sizes), 1.0 / len(sizes))
    # Normalizing before the power keeps n_t^(1/T) finite for large n and small T.
    weights = (sizes / sizes.max()) ** (1.0 / temperature)
    return weights / weights.sum()


def sample_tasks(datasets, sizes, temperature=1.0, seed=None):
    """One dataset drawing each element from task t with probability ``p_t``."""
    weights = task_weights(sizes, temperature)
    return tf.data.Dataset.sample_from_datasets(
        list(datasets), weights=weights.tolist(), seed=seed, stop_on_empty_dataset=False
    )


def shuffled_epochs(datasets, batches_per_task, seed=None):
    """Algorithm 1: each epoch takes ``batches_per_task[t]`` batches of task t, in a
    shuffled order (reshuffled every epoch)."""
    counts = np.asarray(batches_per_task, np.int64)
    if counts.ndim != 1 or len(counts) != len(datasets) or np.any(counts <= 0):
        raise ConfigError(
            f"task sampling: need a positive batch count per task, got {counts.tolist()}"
        )
    schedule = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    choice = (
        tf.data.Dataset.from_tensor_slices(schedule)
        .shuffle(len(schedule), seed=seed, reshuffle_each_iteration=True)
        .repeat()
    )
    return tf.data.Dataset.choose_from_datasets(list(datasets), choice, stop_on_empty_dataset=False)


def mix_tasks(datasets, sizes, batch_size, sampling="epochs", temperature=1.0, seed=None):
    """The mixed stream for ``multitask.sampling``: ``epochs`` (the paper's Algorithm 1,
    ``ceil(n_t / batch_size)`` batches per task per epoch) or ``temperature``."""
    if sampling == "epochs":
        if temperature != 1.0:
            raise ConfigError(
                "multitask.temperature applies to multitask.sampling=temperature; "
                "sampling=epochs is proportional (T = 1)"
            )
        return shuffled_epochs(datasets, [math.ceil(n / batch_size) for n in sizes], seed)
    if sampling == "temperature":
        return sample_tasks(datasets, sizes, temperature, seed)
    raise ConfigError(
        f"multitask.sampling: unknown sampling {sampling!r}; known: {', '.join(SAMPLINGS)}"
    )
