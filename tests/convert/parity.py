"""Shared helpers of the HF-parity tests: a fixture's reference outputs, its loaded model,
the comparison of every reference output, and the save_pretrained round trip.

Each fixture directory holds an HF checkpoint (``config.json``, ``model.safetensors``) and
``reference.npz``: the inputs (``IDS``) and the reference implementation's outputs on them.
"""

import functools
import json
import os

import numpy as np
from safetensors.numpy import load_file

import tfmodels
from tests.conftest import fixture_path, max_abs_diff
from tfmodels.models import registry

IDS = ("input_ids", "input_mask", "segment_ids")
# Fine-tuning heads, whose fixtures spread their logits (tools/make_fixtures.py randomize).
TASK_HEADS = ("ForSequenceClassification", "ForTokenClassification", "ForQuestionAnswering")
HEAD_LOGITS = ("logits", "start_logits", "end_logits")
# Fixtures (by prefix) whose reference gives padding outputs of its own, compared at real
# tokens only: RoBERTa numbers padding with ``pad_token_id``'s position, DeBERTa masks
# the padding's attention rows.
OWN_PADDING = ("roberta_", "deberta_")


def reference(name):
    return dict(np.load(fixture_path(name, "reference.npz")))


@functools.lru_cache(maxsize=None)
def loaded(name):
    """The fixture's model, loaded once per test session."""
    return tfmodels.from_pretrained(fixture_path(name))


def run(model, ref, ids=IDS):
    return model({k: ref[k] for k in ids})


def at_real_tokens(value, mask):
    """Sequence outputs [.., B, S, D] and per-token scores [B, S] (span logits) at the
    positions where ``mask`` is 1; others as they are."""
    value = np.asarray(value)
    if value.ndim >= 3 and value.shape[-3:-1] == mask.shape:
        return value[..., mask.astype(bool), :]
    if value.shape == mask.shape:
        return value[mask.astype(bool)]
    return value


def error_at_real_tokens(got, expected, mask):
    return max_abs_diff(at_real_tokens(got, mask), at_real_tokens(expected, mask))


def assert_outputs_match_reference(
    name, architecture, ids=IDS, tolerance=1e-4, *, everywhere=False, skip=(), from_encoder=False
):
    """Every output in the fixture's reference.npz (but the inputs ``ids`` and ``skip``)
    has the reference's shape and is within ``tolerance`` of it at real tokens (at every
    position with ``everywhere``). ``architecture``, unless None, is the loaded model's.
    With ``from_encoder``, outputs the model lacks (a task model's ``sequence_output``)
    come from ``model.encoder``. A fine-tuning head's reference logits must be spread
    (``assert_logits_are_spread``). Returns the compared keys (never empty)."""
    ref = reference(name)
    model = loaded(name)
    if architecture is not None:
        assert model.architecture == architecture
    if model.architecture.endswith(TASK_HEADS):
        assert_logits_are_spread(name)
    features = {k: ref[k] for k in ids}
    out = model(features)
    compared = []
    for key, expected in ref.items():
        if key in ids or key in skip:
            continue
        source = model.encoder(features) if from_encoder and key not in out else out
        got = np.stack(source[key]) if key == "encoder_outputs" else source[key]
        assert np.shape(got) == expected.shape, key
        if everywhere:
            error = max_abs_diff(got, expected)
        else:
            error = error_at_real_tokens(got, expected, ref["input_mask"])
        assert error <= tolerance, (key, error)
        compared.append(key)
    assert compared
    return compared


def model_types(names):
    """The ``model_type`` of each fixture in ``names`` (their config.json)."""
    types = set()
    for name in names:
        with open(fixture_path(name, "config.json")) as f:
            types.add(json.load(f)["model_type"])
    return types


def families_with(task):
    """The families that declare the role ``task`` (``question_answering`` ...)."""
    return {family for family in registry.FAMILIES if task in registry.family(family).tasks}


def assert_logits_are_spread(name, least=0.5):
    """The fixture's reference head logits (``HEAD_LOGITS``) reach |x| >= ``least``, as its
    writer made them (tools/make_fixtures.py ``randomize``): against a fresh head's logits
    of ~0.1, the 1e-4 comparison would be a weak check of the head's weights."""
    ref = reference(name)
    keys = [key for key in HEAD_LOGITS if key in ref]
    assert keys, name
    for key in keys:
        assert np.abs(ref[key]).max() >= least, (name, key, np.abs(ref[key]).max())


def assert_parameter_count_equals_the_checkpoint(name, converter):
    """The loaded model has as many parameters as the checkpoint's tensors that
    ``converter`` does not ignore."""
    tensors = load_file(fixture_path(name, "model.safetensors"))
    count = sum(
        v.size
        for k, v in tensors.items()
        if k.removeprefix(converter.PREFIX + ".") not in converter.IGNORED
    )
    assert loaded(name).count_params() == count


def assert_save_pretrained_is_lossless(model, name, path):
    """Saves ``model`` (loaded from fixture ``name``) to ``path``: the same tensor names and
    values as the fixture's model.safetensors, no temporary files left, and the model's
    architecture in config.json. Returns (written config.json, the fixture's config.json)."""
    path = str(path)
    tfmodels.save_pretrained(model, path)
    original = load_file(fixture_path(name, "model.safetensors"))
    saved = load_file(os.path.join(path, "model.safetensors"))
    assert set(saved) == set(original)
    for key, value in original.items():
        np.testing.assert_array_equal(saved[key], value)
    assert not [f for f in os.listdir(path) if ".tmp" in f]
    with open(os.path.join(path, "config.json")) as f:
        written = json.load(f)
    with open(fixture_path(name, "config.json")) as f:
        source = json.load(f)
    assert written["architectures"] == [model.architecture]
    return written, source


def assert_reloads_with_the_reference_outputs(
    path, name, keys, tolerance=1e-4, *, everywhere=False
):
    """The checkpoint saved at ``path`` loads back and gives fixture ``name``'s reference
    ``keys`` at real tokens (at every position with ``everywhere``)."""
    ref = reference(name)
    out = run(tfmodels.from_pretrained(str(path)), ref)
    for key in keys:
        if everywhere:
            error = max_abs_diff(out[key], ref[key])
        else:
            error = error_at_real_tokens(out[key], ref[key], ref["input_mask"])
        assert error <= tolerance, (key, error)
