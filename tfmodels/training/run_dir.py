"""A run directory knows the run it holds: its resolved config, ``config.yaml``.

A training run writes the config it ran with into ``model_dir``. A later training run
in the same folder resumes it, so it must be the same experiment: a difference in
anything that shapes the model, the data or the optimization is refused with the
differing keys named, and ``--overwrite`` starts afresh instead. Keys that only say how
long or how visibly to train, or on what hardware (:data:`RESUMABLE`), may change; the
change is logged. Evaluation and prediction read a run without changing it: for them a
difference is only logged, and a checkpoint that does not fit the model is refused when
it is restored (:func:`restore_checkpoint`).
"""

import os

import tensorflow as tf
import yaml

from tfmodels.atomic import atomic_write
from tfmodels.errors import CheckpointError, ConfigError

CONFIG_FILE = "config.yaml"

# Keys (or prefixes ending in ".") a resumed run may change.
RESUMABLE = (
    "trainer.train_steps",
    "trainer.epochs",
    "trainer.checkpoint_every",
    "trainer.eval_every",
    "trainer.log_every",
    "trainer.steps_per_loop",
    "trainer.max_checkpoints",
    "trainer.max_nonfinite_steps",
    "data.eval_batch_size",
    "runtime.",
)

# What marks a folder as a run's (``--overwrite`` empties only such a folder).
_RUN_MARKERS = (CONFIG_FILE, "checkpoints", "best")


def flatten(values, prefix=""):
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``."""
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _resumable(key):
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in RESUMABLE)


def differences(old, new):
    """The dotted keys whose values differ between two config dicts (a key only one
    side has, e.g. a field added since, is not a difference)."""
    old, new = flatten(old), flatten(new)
    return sorted(k for k in old.keys() & new.keys() if old[k] != new[k])


def read_config(model_dir):
    """The config dict a previous run wrote into ``model_dir`` (None: there is none)."""
    path = os.path.join(model_dir, CONFIG_FILE)
    if not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        try:
            return yaml.safe_load(f) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e}); use --overwrite to start afresh")


def is_run_dir(model_dir):
    return any(tf.io.gfile.exists(os.path.join(model_dir, m)) for m in _RUN_MARKERS)


def overwrite(model_dir, log):
    """Empties ``model_dir`` if it holds a run (``--overwrite``); any other folder is
    left alone."""
    if tf.io.gfile.isdir(model_dir) and is_run_dir(model_dir):
        log(f"--overwrite: removing the previous run in {model_dir}")
        for name in tf.io.gfile.listdir(model_dir):
            path = os.path.join(model_dir, name.rstrip("/"))
            if tf.io.gfile.isdir(path):
                tf.io.gfile.rmtree(path)
            else:
                tf.io.gfile.remove(path)


def _shown(value):
    return "null" if value is None else repr(value)


def check(cfg, model_dir, training, log):
    """Compares ``cfg`` with the config of the run in ``model_dir``: a training run
    may change only :data:`RESUMABLE` keys (ConfigError otherwise); evaluation and
    prediction log every difference."""
    previous = read_config(model_dir)
    if previous is None:
        if training and tf.io.gfile.exists(os.path.join(model_dir, "checkpoints")):
            log(
                f"warning: {model_dir} holds checkpoints but no {CONFIG_FILE} (a run of "
                "an earlier version); resuming it without checking its config"
            )
        return
    current = cfg.to_dict()
    changed = differences(previous, current)
    old, new = flatten(previous), flatten(current)
    described = [f"{k}: {_shown(old[k])} -> {_shown(new[k])}" for k in changed]
    refused = [d for k, d in zip(changed, described) if not _resumable(k)]
    if training and refused:
        raise ConfigError(
            f"--model_dir {model_dir} holds a run of another configuration "
            f"({'; '.join(refused[:6])}{' ...' if len(refused) > 6 else ''}); "
            "use another --model_dir, or --overwrite to replace that run"
        )
    if described:
        log(f"{model_dir}: config changed since the run began: {'; '.join(described)}")


def write_config(cfg, model_dir):
    """Writes the resolved config as ``model_dir``/config.yaml (atomically)."""
    with atomic_write(os.path.join(model_dir, CONFIG_FILE)) as f:
        yaml.safe_dump(cfg.to_dict(), f, sort_keys=False)


def restore_checkpoint(checkpoint, path, what="model"):
    """Restores ``path`` into ``checkpoint`` and checks that every variable of the
    objects being restored was found, with the same shape: a checkpoint of another
    model (other labels, layers or sizes) is refused with one line, not restored in
    part."""
    try:
        status = checkpoint.restore(path)
        status.assert_existing_objects_matched()
    except (ValueError, AssertionError, tf.errors.OpError) as e:
        detail = str(e).strip().splitlines()[0][:300]
        raise CheckpointError(
            f"{path}: this checkpoint does not fit the {what} being built ({detail}); "
            "was it written by another configuration? Use another --model_dir, or "
            "--overwrite to replace that run"
        ) from None
    status.expect_partial()
    return status
