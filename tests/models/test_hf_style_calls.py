"""HF-style calls on every family's models (tfmodels.models.base.OptionalFeatures):
``model(input_ids)``, ``model({"input_ids": ids})`` and ``model({"input_ids": ids,
"input_mask": mask})`` give the outputs of the full call with the left-out features
written out (masks all ones, segment ids 0; XLNet's -1, HF's ``token_type_ids=None``),
in eager, in ``tf.function`` and after a Keras SavedModel round trip.

Each family's backbone and one task model (its classifier where it has one, else its
last role) are built from the tiny config of the family's test file (its ``SPEC``),
with one layer per stack.
"""

import dataclasses
import importlib

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.models import registry

OPTIONAL = ("input_mask", "segment_ids", "decoder_input_mask")
# What a left-out segment_ids stands for, where it is not 0. (With one segment XLNet's
# -1 and 0 attend alike, the segment term being the same for every key; they differ on
# memory, which these calls have none of.)
SEGMENT_DEFAULT = {"xlnet": -1}


def spec(family):
    """The family's FamilySpec, from its test file (tests/models/test_<module>.py)."""
    module = registry.FAMILIES[family].rsplit(".", 1)[1]
    return importlib.import_module(f"tests.models.test_{module}").SPEC


def one_layer(config):
    """The tiny config with one layer per stack: half the build and trace time, and
    every input still reaches the same layers."""
    layers = ("num_layers", "num_encoder_layers", "num_decoder_layers")
    return dataclasses.replace(config, **{name: 1 for name in layers if hasattr(config, name)})


def task_role(family_spec):
    roles = [role for role in family_spec.roles if role != "backbone"]
    return "classification" if "classification" in roles else roles[-1]


CASES = [
    (family, role) for family in registry.FAMILIES for role in ("backbone", task_role(spec(family)))
]


@pytest.fixture(scope="module")
def built():
    """(family, role) -> model, each built once for the module's tests."""
    cache = {}

    def get(family, role):
        if (family, role) not in cache:
            family_spec = spec(family)
            cache[family, role] = family_spec.roles[role].build(one_layer(family_spec.config))
        return cache[family, role]

    return get


def features(family, role):
    """The role's features with every optional one left out, and a padding mask (the
    second row's last two positions are padding)."""
    family_spec = spec(family)
    given = family_spec.roles[role].features or family_spec.features
    required = {k: tf.constant(v) for k, v in given.items() if k not in OPTIONAL}
    mask = np.ones(required["input_ids"].shape, np.int32)
    mask[1, -2:] = 0
    return required, tf.constant(mask)


def full(model, family, required, mask):
    """Every input the model's graph takes, the left-out ones written out."""
    ids = required["input_ids"]
    inputs = {**required, "input_mask": mask}
    if "segment_ids" in model.input:
        inputs["segment_ids"] = tf.fill(tf.shape(ids), SEGMENT_DEFAULT.get(family, 0))
    if "decoder_input_mask" in model.input:
        inputs["decoder_input_mask"] = tf.ones_like(required["decoder_input_ids"])
    return inputs


def hf_calls(model, family, required, mask):
    """``(calls, everything, padded)``: ``calls`` lists ``(style, outputs of the HF-style
    call, outputs of the full call)``; ``everything`` and ``padded`` are the full call's
    outputs with an all-ones and with the padding mask."""
    ids = required["input_ids"]
    everything = model(full(model, family, required, tf.ones_like(ids)))
    padded = model(full(model, family, required, mask))
    hf_names = {**required, "attention_mask": mask}
    if "decoder_input_mask" in model.input:
        hf_names["decoder_attention_mask"] = tf.ones_like(required["decoder_input_ids"])
    elif "segment_ids" in model.input and family not in SEGMENT_DEFAULT:
        hf_names["token_type_ids"] = tf.zeros_like(ids)
    calls = [
        ("ids only", model({**required}), everything),
        ("ids and mask", model({**required, "input_mask": mask}), padded),
        ("HF names", model(hf_names), padded),
    ]
    if len(required) == 1:  # no other required input (decoder ids, two streams)
        calls.append(("bare tensor", model(ids), everything))
    return calls, everything, padded


def max_diff(got, expected):
    assert set(got) == set(expected)
    flat_got, flat_expected = tf.nest.flatten(got), tf.nest.flatten(expected)
    assert len(flat_got) == len(flat_expected)
    return max(
        float(tf.reduce_max(tf.abs(tf.cast(g, tf.float32) - tf.cast(e, tf.float32))))
        for g, e in zip(flat_got, flat_expected)
    )


def check(calls, everything, padded):
    """Each call within 1e-6 of its full call, and within a thousandth of what the
    padding changes: the fresh tiny models' outputs are small (a classifier's logits
    ~1e-3), so a mask left unused could hide under 1e-6 alone."""
    effect = max_diff(padded, everything)
    assert effect > 0, "the padding mask changes no output"
    tolerance = min(1e-6, 1e-3 * effect)
    for name, got, expected in calls:
        diff = max_diff(got, expected)
        assert diff <= tolerance, f"{name}: outputs differ by {diff} (padding: {effect})"


@pytest.mark.parametrize("family, role", CASES)
def test_eager(family, role, built):
    model = built(family, role)
    required, mask = features(family, role)
    calls, everything, padded = hf_calls(model, family, required, mask)
    assert len(calls) == (4 if len(required) == 1 else 3)
    check(calls, everything, padded)


@pytest.mark.parametrize("family", list(registry.FAMILIES))
def test_tf_function(family, built):
    """In a graph, on the task model: the ids alone (a bare tensor where no other input
    is required) against the full call in the same graph. (One call: each costs a trace
    of the model; what the others add is Python, the same in a graph.)"""
    role = task_role(spec(family))
    model = built(family, role)
    required, mask = features(family, role)
    others = {k: v for k, v in required.items() if k != "input_ids"}

    @tf.function
    def graph(ids):
        ones = tf.ones_like(ids)
        hf_style = model({"input_ids": ids, **others} if others else ids)
        return hf_style, model(full(model, family, {"input_ids": ids, **others}, ones))

    hf_style, everything = graph(required["input_ids"])
    padded = model(full(model, family, required, mask))
    check([("ids only in a graph", hf_style, everything)], everything, padded)


def test_a_feature_given_twice_is_an_error(built):
    model = built("bert", "backbone")
    ids = tf.constant([[1, 2, 3]])
    with pytest.raises(
        ValueError, match="'input_mask' is given twice, also as HF's 'attention_mask'"
    ):
        model({"input_ids": ids, "input_mask": ids, "attention_mask": ids})


def test_keras_saved_model_round_trip(built, tmp_path):
    """The model Keras loads back from a SavedModel takes the HF-style calls, with the
    outputs of the model it was saved from."""
    model = built("bert", "classification")
    required, mask = features("bert", "classification")
    _, everything, padded = hf_calls(model, "bert", required, mask)
    model.save(str(tmp_path / "saved"), save_format="tf")
    cls = type(model)
    loaded = keras.models.load_model(str(tmp_path / "saved"), custom_objects={cls.__name__: cls})
    assert type(loaded) is cls
    calls, loaded_everything, loaded_padded = hf_calls(loaded, "bert", required, mask)
    assert len(calls) == 4
    saved = [("as saved", loaded_everything, everything), ("as saved", loaded_padded, padded)]
    check(calls + saved, everything, padded)
