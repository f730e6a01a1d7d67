"""Base for the families' ``Config`` dataclasses: strict construction from dicts.

Checkpoints and YAML files name the same hyper-parameters differently; a family
declares the HuggingFace ``config.json`` spellings in ``HF_NAMES`` and
``from_dict``/``from_hf`` reject unknown keys and wrong types with a message
naming the key.
"""

import dataclasses
import typing

from tfmodels import strict_config
from tfmodels.errors import ConfigError


@dataclasses.dataclass
class ModelConfig:
    """Fields are set by subclasses; ``family`` names the module that builds them."""

    family: typing.ClassVar[str] = ""
    HF_NAMES: typing.ClassVar[dict] = {}  # HF config.json key -> our field name

    @classmethod
    def from_dict(cls, values, source="config"):
        """Strict: every key must be a field, every value of the field's type."""
        return strict_config.from_dict(cls, values, source)

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

    def refuse(self, unsupported, network):
        """ConfigError for the first field whose ``unsupported`` flag is set: a checkpoint
        variant ``network`` does not compute is refused, not silently run as another."""
        for name, bad in unsupported.items():
            if bad:
                raise ConfigError(f"{name}={getattr(self, name)!r} is not supported by {network}")

    def to_hf(self):
        """Back to HuggingFace config.json spellings."""
        ours_to_hf = {ours: hf for hf, ours in self.HF_NAMES.items()}
        return {ours_to_hf.get(k, k): v for k, v in self.to_dict().items() if v is not None}
