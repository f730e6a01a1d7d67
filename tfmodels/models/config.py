"""Base for the families' ``Config`` dataclasses: strict construction from dicts.

Checkpoints and YAML files name the same hyper-parameters differently; a family
declares the HuggingFace ``config.json`` spellings in ``HF_NAMES`` and
``from_dict``/``from_hf`` reject unknown keys and wrong types with a message
naming the key.
"""
import dataclasses
import typing

from tfmodels.errors import ConfigError


def _check_type(name, value, annotation):
    if typing.get_origin(annotation) is typing.Union:  # Optional[int]
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        if value is None:
            return value
        annotation = options[0]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation in (int, float, str, bool) and not isinstance(value, annotation) or \
            (annotation is int and isinstance(value, bool)):
        raise ConfigError(f"config key {name!r} must be {annotation.__name__}, "
                          f"got {value!r}")
    return value


@dataclasses.dataclass
class ModelConfig:
    """Fields are set by subclasses; ``family`` names the module that builds them."""

    family: typing.ClassVar[str] = ""
    HF_NAMES: typing.ClassVar[dict] = {}  # HF config.json key -> our field name

    @classmethod
    def from_dict(cls, values, source="config"):
        """Strict: every key must be a field, every value of the field's type."""
        fields = {f.name: f for f in dataclasses.fields(cls)}
        hints = typing.get_type_hints(cls)
        kwargs = {}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{source}: unknown key {key!r} for a {cls.family} model; "
                                  f"known keys: {', '.join(sorted(fields))}")
            kwargs[key] = _check_type(f"{source}: {key}", value, hints[key])
        return cls(**kwargs)

    @classmethod
    def from_hf(cls, hf_config, source="config.json"):
        """From a HuggingFace config.json dict; keys we do not model are ignored."""
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {}
        for key, value in hf_config.items():
            name = cls.HF_NAMES.get(key, key)
            if name in fields:
                values[name] = value
        return cls.from_dict(values, source)

    def to_dict(self):
        return dataclasses.asdict(self)

    def to_hf(self):
        """Back to HuggingFace config.json spellings."""
        ours_to_hf = {ours: hf for hf, ours in self.HF_NAMES.items()}
        return {ours_to_hf.get(k, k): v for k, v in self.to_dict().items()
                if v is not None}
