"""The real pretrained all-MiniLM-L6-v2: token ids and hidden states match the reference."""

import json

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path, max_abs_diff


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(fixture_path("minilm_reference.npz")))


@pytest.fixture(scope="module")
def features(minilm_path, reference):
    with open(fixture_path("sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    pre = tfmodels.preprocessor_from_pretrained(
        minilm_path, seq_length=int(reference["seq_length"])
    )
    singles = pre(tf.constant(sentences["singles"]))
    pairs = pre(
        (
            tf.constant([a for a, _ in sentences["pairs"]]),
            tf.constant([b for _, b in sentences["pairs"]]),
        )
    )
    return {k: np.concatenate([singles[k], pairs[k]]) for k in singles}


def test_token_ids_match_the_reference_tokenizer_exactly(features, reference):
    assert features["input_ids"].shape[0] >= 20
    for key in ("input_ids", "input_mask", "segment_ids"):
        rows_equal = np.all(features[key] == reference[key], axis=1)
        assert rows_equal.all(), f"{key}: rows {np.flatnonzero(~rows_equal)} differ"


def test_hidden_states_match_the_reference(minilm_path, features, reference):
    model = tfmodels.from_pretrained(minilm_path)
    out = model(features)
    # Compared where tokens are real; values at padded positions are not used by anything.
    real = reference["input_mask"].astype(bool)
    assert (
        max_abs_diff(out["sequence_output"].numpy()[real], reference["sequence_output"][real])
        <= 1e-4
    )
    assert max_abs_diff(out["pooled_output"], reference["pooled_output"]) <= 1e-4
