"""The randomness of a training step, keyed by the run's seed and the step.

Dropout masks (:class:`tfmodels.layers.dropout.Dropout`), ELECTRA's generator samples
and SiFT's initial noise come from stateless random ops whose seed folds together
``trainer.seed``, the step (and micro-batch), the replica and the draw, so a run resumed
from a checkpoint draws what an uninterrupted run draws at the same step, and two runs
of one config draw alike. The :class:`Trainer` sets the key around each step
(:func:`keyed_by`); outside a Trainer the ops fall back to the global random state.
"""

import contextlib

import tensorflow as tf

_KEY = []  # [seed, step, draws so far] of the step being traced, innermost last


@contextlib.contextmanager
def keyed_by(seed, step):
    """Draws made while tracing inside this block are keyed by ``seed`` and ``step``
    (a scalar tensor: the optimizer's step and the micro-batch within it)."""
    _KEY.append([seed, step, 0])
    try:
        yield
    finally:
        _KEY.pop()


def seed_available():
    """Whether :func:`seed` keys draws here (inside :func:`keyed_by`)."""
    return bool(_KEY)


def seed(salt=None):
    """A stateless-op seed [2] for the current step (None outside :func:`keyed_by`).
    ``salt`` tells apart the draws of one step; without it, each call takes the next
    number (the order the step's graph draws in, the same in every trace)."""
    if not _KEY:
        return None
    run_seed, step, drawn = _KEY[-1]
    if salt is None:
        salt = 1000 + drawn
        _KEY[-1][2] += 1
    replica = tf.distribute.get_replica_context()
    replica = replica.replica_id_in_sync_group if replica is not None else 0
    key = tf.stack([tf.constant(run_seed, tf.int64), tf.cast(step, tf.int64)])
    for data in (replica, salt):
        key = tf.random.experimental.stateless_fold_in(key, tf.cast(data, tf.int64))
    return key


def uniform(shape, salt, **kwargs):
    """``tf.random.uniform``, stateless and keyed by the step inside a Trainer."""
    key = seed(salt)
    if key is None:
        return tf.random.uniform(shape, **kwargs)
    return tf.random.stateless_uniform(shape, key, **kwargs)


def normal(shape, salt, **kwargs):
    """``tf.random.normal``, stateless and keyed by the step inside a Trainer."""
    key = seed(salt)
    if key is None:
        return tf.random.normal(shape, **kwargs)
    return tf.random.stateless_normal(shape, key, **kwargs)
