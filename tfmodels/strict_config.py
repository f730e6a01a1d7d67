"""Dataclasses from YAML/JSON dicts, strictly: unknown keys, wrong types and values out
of range are errors.

Used for model configurations and experiment configurations alike; the message
names the source file and the dotted key (``trainer.train_steps``). A numeric field
declares its range where it is defined, ``checkpoint_every: int = bounded(500, "[1,
inf)")``; a field named ``dropout`` or ``*_dropout`` is in ``[0, 1)`` unless it
declares otherwise (:data:`NAMED_RANGES`, so the model families' configs are checked
too). ``None`` (an unset Optional) is always accepted.
"""

import dataclasses
import math
import re
import typing

import yaml

from tfmodels.errors import ConfigError

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_INTERVAL = re.compile(r"\s*([\[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*")


class Interval:
    """The values a numeric field takes, written as in mathematics: ``"[1, inf)"`` (an
    integer from 1), ``"(0, 1)"``, ``"[0, 1)"``, ``"(0, inf]"`` (infinity allowed)."""

    def __init__(self, text):
        match = _INTERVAL.fullmatch(text)
        if not match:
            raise ValueError(f"not an interval: {text!r} (write e.g. '[0, 1)' or '[1, inf)')")
        self.text = text.strip()
        self.low_closed, self.high_closed = match.group(1) == "[", match.group(4) == "]"
        self.low, self.high = float(match.group(2)), float(match.group(3))

    def __contains__(self, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
            return False
        above = value >= self.low if self.low_closed else value > self.low
        below = value <= self.high if self.high_closed else value < self.high
        return above and below

    @staticmethod
    def _number(x):
        return str(int(x)) if x.is_integer() else repr(x)

    def __str__(self):
        """``>= 1``, ``> 0`` for a half-line; else ``in [0, 1)``."""
        if math.isinf(self.high) and not self.high_closed and not math.isinf(self.low):
            return f"{'>=' if self.low_closed else '>'} {self._number(self.low)}"
        return f"in {self.text}"


def bounded(default=dataclasses.MISSING, interval="(-inf, inf)", **kwargs):
    """A dataclass field whose values (a number, or each number of a list) must lie in
    ``interval`` (see :class:`Interval`); ``kwargs`` go to ``dataclasses.field``."""
    metadata = dict(kwargs.pop("metadata", None) or {}, interval=Interval(interval))
    return dataclasses.field(default=default, metadata=metadata, **kwargs)


# Fields without a declared range whose name says what they are.
NAMED_RANGES = ((re.compile(r"(^|_)dropout$"), Interval("[0, 1)")),)


def interval_of(field):
    """The :class:`Interval` of a dataclass field (declared or by its name), or None."""
    if "interval" in field.metadata:
        return field.metadata["interval"]
    return next((i for pattern, i in NAMED_RANGES if pattern.search(field.name)), None)


def check_flags(flag_values, intervals):
    """ConfigError naming the first ``--flag`` of ``intervals`` ({flag: interval text})
    whose value (None: unset, accepted) is out of its range."""
    for name, text in intervals.items():
        value, interval = getattr(flag_values, name), Interval(text)
        if value is not None and value not in interval:
            raise ConfigError(f"--{name} must be {interval}, got {value!r}")


def check_range(key, value, field, source):
    """ConfigError unless ``value`` (or each item of a list) lies in the field's range."""
    interval = interval_of(field)
    if interval is None or value is None:
        return
    for item in value if isinstance(value, (list, tuple)) else [value]:
        number = isinstance(item, (int, float)) and not isinstance(item, bool)
        if number and item not in interval:
            raise ConfigError(f"{source}: {key!r} must be {interval}, got {item!r}")


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
    if values is not None and not isinstance(values, dict):
        where = f"{prefix[:-1]!r}" if prefix else "the config"
        raise ConfigError(f"{source}: {where} must be a mapping, got {values!r}")
    for key, value in (values or {}).items():
        if key not in fields or not fields[key].init:
            known = ", ".join(sorted(f"{prefix}{k}" for k, f in fields.items() if f.init))
            raise ConfigError(
                f"{source}: unknown key {f'{prefix}{key}'!r}; "
                f"known keys: {known or '(none: this section takes no keys)'}"
            )
        kwargs[key] = _coerce(prefix + key, value, hints[key], source)
        check_range(prefix + key, kwargs[key], fields[key], source)
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
        try:
            node[keys[-1]] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise ConfigError(yaml_error(f"{source} {item}", e, line=False)) from None
    return values


def yaml_error(where, error, line=True):
    """One line for a YAML syntax error: ``where:LINE: not valid YAML: problem``."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).strip().splitlines()[0]
    if line and mark is not None:
        where = f"{where}:{mark.line + 1}"
    return f"{where}: not valid YAML: {problem}"
