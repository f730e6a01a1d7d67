"""The checks every family's models must pass, written once and run by each family's file.

In the spirit of keras-hub's ``run_backbone_test``/``run_task_test``: a family's test file
declares a :class:`FamilySpec` (its registry name, tiny config, features and, for every
role, the :class:`Role` it expects) and takes its tests from it::

    models = harness.models_fixture(SPEC)  # role -> model, shared with the file's tests
    test_common_checks = harness.common_checks(SPEC)  # run_role_test, once per role

What is particular to a family (named sizes, its errors, its layers, its HF names) stays
in its file. Each model is checked for:

- the registry: the family declares exactly these roles and classes, and each role and
  each HF architecture name loads its class (where roles share a name, the first role's
  class); the backbone's test also checks the config class and the to_dict/from_dict and
  to_hf/from_hf round trips, through JSON as files hold them;
- outputs: their keys, shapes (lists per layer included) and float32 dtype, the same
  from call to call;
- a rebuild: ``from_config(get_config())`` gives the same config, and with the weights
  written by ``tf.train.Checkpoint`` and read back (every variable matched) the same
  outputs;
- mixed_bfloat16 (the backbone, and any model given to :func:`run_model_test`): a model
  built under that policy keeps float32 variables, computes in bfloat16 and, with the
  same weights, stays within 10% of float32 (the float32 policy is restored whatever
  happens);
- the family's own invariants (``Role.check``) on every build.
"""

import dataclasses
import json
from typing import Any, Callable, Mapping, Optional

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tfmodels.models import registry

# A mixed_bfloat16 output may differ from float32 by this fraction of the float32
# output's largest magnitude: bfloat16 keeps 8 bits of mantissa (about 0.4%); through
# their layers the tiny models measured 1-2.5% (over random initializations), so this
# leaves a margin of four while still catching an overflow, a lost scale or a path that
# computes something else in bfloat16.
BFLOAT16_TOLERANCE = 0.1


@dataclasses.dataclass(frozen=True)
class Role:
    """What one role's model must be.

    Attributes:
      cls: the class the family declares for the role.
      architecture: its HF architecture name.
      outputs: output key -> shape; a list of shapes for a list output
        (``encoder_outputs``, ``attention_scores``).
      kwargs: constructor arguments besides the config (``num_labels``, ...).
      features: the role's own features where they differ from the family's (XLNet's
        two streams).
      atol: how far the rebuilt model's outputs may be from the original's; 0 demands
        identical outputs.
      check: ``check(model)``, family invariants asserted on the model, its rebuilt
        clone and its mixed_bfloat16 build.

    Two roles given the same Role object share one model, checked once.
    """

    cls: type
    architecture: str
    outputs: Mapping[str, Any]
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    features: Optional[Mapping[str, Any]] = None
    atol: float = 1e-6
    check: Optional[Callable] = None

    def build(self, config):
        return self.cls(config, **self.kwargs)


@dataclasses.dataclass(frozen=True)
class FamilySpec:
    """A family's registry name, tiny config, features and every role it declares, in
    the family's order."""

    name: str
    config: Any
    features: Mapping[str, Any]
    roles: Mapping[str, Role]


def models_fixture(spec):
    """A module-scoped fixture ``models``: role -> model built from the tiny config on
    first use, for the common checks and the family's own tests alike."""

    @pytest.fixture(scope="module", name="models")
    def models():
        return Models(spec)

    return models


def common_checks(spec):
    """A test of every role of ``spec`` (:func:`run_role_test`), for the module to hold
    as ``test_common_checks``; it uses the module's :func:`models_fixture`."""

    @pytest.mark.parametrize("role", list(spec.roles))
    def test_common_checks(role, models, tmp_path):
        run_role_test(spec, role, models[role], tmp_path)

    return test_common_checks


class Models:
    """The family's models by role, built once; roles that share a Role share a model."""

    def __init__(self, spec):
        self.spec = spec
        self._built = {}

    def __getitem__(self, role):
        declared = self.spec.roles[role]
        if id(declared) not in self._built:
            self._built[id(declared)] = declared.build(self.spec.config)
        return self._built[id(declared)]


def run_role_test(spec, role, model, tmp_path):
    """Every common check of one role (the backbone's also covers the family)."""
    if role == "backbone":
        run_backbone_test(spec, model, tmp_path)
    else:
        run_task_model_test(spec, role, model, tmp_path)


def run_backbone_test(spec, model, tmp_path):
    """The family's declaration and config, then the backbone's model checks."""
    check_family(spec)
    run_task_model_test(spec, "backbone", model, tmp_path)


def run_task_model_test(spec, role, model, tmp_path):
    """The role's registry entries, then its model's checks (once per Role object)."""
    check_registry(spec, role)
    declared = spec.roles[role]
    first = next(name for name, other in spec.roles.items() if other is declared)
    if first == role:  # a later role with the same Role names the same model
        # mixed_bfloat16 on the backbone only: the heads are Dense layers on its output,
        # and building every head once more cost a third of this suite's time.
        run_model_test(
            declared,
            spec.config,
            spec.features,
            tmp_path,
            model,
            mixed_precision=role == "backbone",
        )


def check_family(spec):
    """The registry declares exactly the roles of ``spec``; its config round-trips."""
    family = registry.family(spec.name)
    assert dict(family.tasks) == {role: declared.cls for role, declared in spec.roles.items()}, (
        "the family's roles and classes"
    )
    assert registry.backbone_architecture(spec.name) == spec.roles["backbone"].architecture, (
        "backbone architecture"
    )
    assert family.config_class is type(spec.config), "config class"
    assert family.config_class.family == spec.name, "config family"
    check_config_round_trips(spec.config)


def check_config_round_trips(config):
    """to_dict/from_dict (our YAML) and to_hf/from_hf (HF config.json), as JSON."""
    config_class = type(config)
    assert config_class.from_dict(json.loads(json.dumps(config.to_dict()))) == config, (
        "to_dict/from_dict"
    )
    assert config_class.from_hf(json.loads(json.dumps(config.to_hf()))) == config, "to_hf/from_hf"


def check_registry(spec, role):
    """The role loads the role's class; its HF architecture name the class of the first
    role of that name (family.py)."""
    declared = spec.roles[role]
    assert declared.cls.architecture == declared.architecture, "architecture name"
    assert registry.model_class(spec.name, role) is declared.cls, "class of the role"
    first = next(
        other.cls for other in spec.roles.values() if other.architecture == declared.architecture
    )
    assert registry.model_class(spec.name, declared.architecture) is first, (
        "class of the architecture name"
    )


def run_model_test(declared, config, features, tmp_path, model=None, mixed_precision=True):
    """Outputs, rebuild with checkpointed weights, mixed_bfloat16 of one model; also for
    a model outside the registry (SpanBERT's pre-trainer).

    ``model``: ``declared`` built from ``config`` (built here if None); ``features``:
    its inputs unless ``declared.features`` gives the role's own.
    """
    if declared.features is not None:
        features = declared.features
    model = declared.build(config) if model is None else model
    assert type(model) is declared.cls, "model class"
    assert model.architecture == declared.architecture, "architecture name"
    assert type(model.config) is type(config) and model.config == config, "model config"
    outputs = model(features)
    assert shapes(outputs) == dict(declared.outputs), "output shapes"
    assert {t.dtype for t in tensors(outputs).values()} == {tf.float32}, "output dtypes"
    assert_close(model(features), outputs, 0.0, "a second call (dropout outside training?)")
    clone = check_rebuilt(declared, model, features, outputs, tmp_path)
    built = [model, clone]
    if mixed_precision:
        built.append(check_mixed_bfloat16(declared, config, model, features, outputs))
    if declared.check is not None:
        for each in built:
            declared.check(each)


def check_rebuilt(declared, model, features, outputs, tmp_path):
    """``from_config(get_config())`` with the checkpointed weights: the same model."""
    clone = type(model).from_config(model.get_config())
    assert clone.get_config() == model.get_config(), "rebuilt get_config"
    assert type(clone.config) is type(model.config), "rebuilt config class"
    assert clone.config == model.config, "rebuilt config"
    assert type(model.config).from_dict(model.get_config()["config"]) == model.config, (
        "get_config's config"
    )
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    tf.train.Checkpoint(model=clone).read(path).assert_consumed()
    assert clone.count_params() == model.count_params(), "rebuilt parameter count"
    assert_close(clone(features), outputs, declared.atol, "rebuilt outputs")
    return clone


def check_mixed_bfloat16(declared, config, model, features, outputs):
    """Built under mixed_bfloat16 with ``model``'s weights: float32 variables, bfloat16
    computation, outputs close to float32's; the global policy is restored."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        mixed = declared.build(config)
        mixed.set_weights(model.get_weights())
        mixed_outputs = mixed(features)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    assert {v.dtype for v in mixed.variables} == {tf.float32}, "mixed_bfloat16 variables"
    assert shapes(mixed_outputs) == shapes(outputs), "mixed_bfloat16 output shapes"
    dtypes = {t.dtype for t in tensors(mixed_outputs).values()}
    assert tf.bfloat16 in dtypes and dtypes <= {tf.bfloat16, tf.float32}, (
        f"mixed_bfloat16 output dtypes {dtypes}"
    )
    for key, value in tensors(outputs).items():
        got = tf.cast(tensors(mixed_outputs)[key], tf.float32).numpy()
        scale = np.abs(value.numpy()).max()
        assert np.abs(got - value.numpy()).max() <= BFLOAT16_TOLERANCE * scale, (
            f"mixed_bfloat16 {key} far from float32"
        )
    return mixed


def tensors(outputs):
    """``{key: tensor}`` with list outputs spread as ``key[i]``."""
    flat = {}
    for key, value in outputs.items():
        if isinstance(value, (list, tuple)):
            flat.update({f"{key}[{i}]": item for i, item in enumerate(value)})
        else:
            flat[key] = value
    return flat


def shapes(outputs):
    """``{key: shape}``, a list of shapes for a list output."""
    return {
        key: [tuple(item.shape) for item in value]
        if isinstance(value, (list, tuple))
        else tuple(value.shape)
        for key, value in outputs.items()
    }


def assert_close(actual, expected, atol, what):
    """Same keys; every tensor within ``atol`` (0: identical); ``what`` names the check."""
    actual, expected = tensors(actual), tensors(expected)
    assert set(actual) == set(expected), f"{what}: keys"
    for key, value in expected.items():
        np.testing.assert_allclose(
            np.asarray(actual[key]), np.asarray(value), rtol=0, atol=atol, err_msg=f"{what}: {key}"
        )
