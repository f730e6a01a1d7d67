"""Dataclasses from YAML/JSON dicts, strictly: unknown keys and wrong types are errors.

Used for model configurations and experiment configurations alike; the message
names the source file and the dotted key (``trainer.train_steps``).
"""

import dataclasses
import re
import typing

import yaml

from tfmodels.errors import ConfigError

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def _coerce(key, value, annotation, source):
    origin = typing.get_origin(annotation)
    if origin is typing.Union:  # Optional[X]
        if value is None:
            return None
        annotation = [a for a in typing.get_args(annotation) if a is not type(None)][0]
        origin = typing.get_origin(annotation)
    if dataclasses.is_dataclass(annotation):
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key!r} must be a mapping, got {value!r}")
        if hasattr(annotation, "config_for"):  # a typed section: its type field picks the class
            annotation = annotation.config_for(value, source, key)
        return from_dict(annotation, value, source, prefix=f"{key}.")
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{source}: {key!r} must be a list, got {value!r}")
        (item,) = typing.get_args(annotation)[:1] or (typing.Any,)
        return [_coerce(f"{key}[{i}]", v, item, source) for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is float and isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        return float(value)  # YAML 1.1 reads "2e-5" (no dot) as a string
    if annotation in (int, float, str, bool):
        if not isinstance(value, annotation) or (annotation is int and isinstance(value, bool)):
            raise ConfigError(f"{source}: {key!r} must be {annotation.__name__}, got {value!r}")
    return value


def from_dict(cls, values, source="config", prefix=""):
    """Builds dataclass ``cls`` from ``values``; nested dataclass fields take nested dicts."""
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in (values or {}).items():
        if key not in fields or not fields[key].init:
            known = ", ".join(sorted(f"{prefix}{k}" for k, f in fields.items() if f.init))
            raise ConfigError(f"{source}: unknown key {prefix + key!r}; known keys: {known}")
        kwargs[key] = _coerce(prefix + key, value, hints[key], source)
    return cls(**kwargs)


def check_choice(key, value, known, what):
    """``value`` is one of ``known``, else a ConfigError naming ``key`` and the choices."""
    if value not in known:
        raise ConfigError(f"{key}: unknown {what} {value!r}; known: {', '.join(known)}")


def apply_overrides(values, overrides, source="--set"):
    """Applies ``["a.b=1", ...]`` to a nested dict; values are parsed as YAML scalars."""
    values = dict(values)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"{source}: expected KEY=VALUE, got {item!r}")
        dotted, raw = item.split("=", 1)
        keys = dotted.strip().split(".")
        node = values
        for key in keys[:-1]:
            child = node.get(key)
            node[key] = dict(child) if isinstance(child, dict) else {}
            node = node[key]
        node[keys[-1]] = yaml.safe_load(raw) if raw.strip() else None
    return values
