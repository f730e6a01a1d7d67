"""Public entry points: build, from_pretrained, preprocessor_from_pretrained, save_pretrained."""

import os

import yaml

from tfmodels.convert import pretrained as _pretrained
from tfmodels.errors import ConfigError, DataError
from tfmodels.models import registry

# Inside the package (package data), so an installed tfmodels builds its named models.
CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "configs", "models")


def model_names():
    """Names of the configurations under tfmodels/configs/models/."""
    if not os.path.isdir(CONFIG_DIR):
        return []
    return sorted(f[:-5] for f in os.listdir(CONFIG_DIR) if f.endswith(".yaml"))


def load_model_config(name):
    """The family Config of a named configuration (or a path to a YAML file)."""
    path = name if name.endswith((".yaml", ".yml")) else os.path.join(CONFIG_DIR, f"{name}.yaml")
    if not os.path.isfile(path):
        raise ConfigError(f"unknown model {name!r}; known: {', '.join(model_names())}")
    with open(path, encoding="utf-8") as f:
        values = yaml.safe_load(f) or {}
    if not isinstance(values, dict) or "family" not in values:
        raise ConfigError(f"{path}: a model config needs a 'family' key")
    values = dict(values)
    family = values.pop("family")
    return registry.family(family, source=f"{path}: family").config_class.from_dict(values, path)


def build(name, architecture=None, **head_args):
    """A randomly initialized model of a named configuration; the backbone by default."""
    config = load_model_config(name)
    architecture = architecture or registry.backbone_architecture(config.family)
    return _pretrained.build_model(config.family, architecture, config, head_args, name)


def from_pretrained(path, architecture=None, num_labels=None):
    return _pretrained.from_pretrained(path, architecture=architecture, num_labels=num_labels)


from_pretrained.__doc__ = _pretrained.from_pretrained.__doc__


def save_pretrained(model, path):
    return _pretrained.save_pretrained(model, path)


save_pretrained.__doc__ = _pretrained.save_pretrained.__doc__


def preprocessor_from_pretrained(path, seq_length=128):
    """The in-graph tokenizer + packer of a checkpoint directory.

    The family its config.json names decides the tokenizer (``FAMILY.tokenizer``) when
    its files are there; a folder without config.json (a bare vocabulary, a Google
    checkpoint) is read by the files it holds. ``seq_length`` may not exceed the
    model's ``max_position_embeddings``.
    """
    from tfmodels.models.family import TOKENIZERS

    path = os.fspath(path)
    family, limits = None, []
    for config_name in ("config.json", "bert_config.json"):
        config_path = os.path.join(path, config_name)
        if os.path.isfile(config_path):
            config = _pretrained.read_json(config_path)
            limits.append((config.get("max_position_embeddings"), config_path))
            if config.get("model_type") in registry.FAMILIES:
                family = registry.family(config["model_type"])
    kinds = [
        k
        for k, files in TOKENIZERS.items()
        if all(os.path.isfile(os.path.join(path, f)) for f in files)
    ]
    if family is not None and family.tokenizer in kinds:
        kind = family.tokenizer
    else:  # the files decide
        kind = next((k for k in _BY_FILES if k in kinds), None)
        if kind is None:
            raise DataError(f"no vocab.txt in {path}")
    for max_positions, config_path in limits if kind != "byte_bpe" else ():  # it checks its own
        if max_positions and seq_length > max_positions:
            raise ConfigError(
                f"seq_length {seq_length} exceeds the model's "
                f"max_position_embeddings {max_positions} ({config_path})"
            )
    return _TOKENIZER_BUILDERS[kind](path, seq_length, family)


def _wordpiece(path, seq_length, family):
    from tfmodels.tokenizers import Preprocessor, WordPieceTokenizer

    return Preprocessor(
        WordPieceTokenizer(os.path.join(path, "vocab.txt"), lower_case=_lower_case(path, True)),
        seq_length=seq_length,
    )


def _byte_bpe(path, seq_length, family):
    from tfmodels.tokenizers import byte_bpe_preprocessor

    return byte_bpe_preprocessor(path, seq_length, family)  # RoBERTa, GPT-2, BART


def _sentencepiece(path, seq_length, family):
    from tfmodels.tokenizers.sentencepiece import sentencepiece_preprocessor

    return sentencepiece_preprocessor(path, seq_length)  # ALBERT, XLNet


def _t5_sentencepiece(path, seq_length, family):
    from tfmodels.tokenizers.sentencepiece import t5_preprocessor

    return t5_preprocessor(path, seq_length)  # cased, "text </s>", no [CLS]


def _deberta_sentencepiece(path, seq_length, family):
    from tfmodels.tokenizers import Preprocessor
    from tfmodels.tokenizers.sentencepiece import SentencePieceTokenizer

    tokenizer = SentencePieceTokenizer(
        os.path.join(path, "spm.model"), lower_case=_lower_case(path, False), keep_accents=True
    )
    return Preprocessor(tokenizer, seq_length=seq_length, pad_token="[PAD]")  # [CLS]=1 [SEP]=2


def _lower_case(path, default):
    """``do_lower_case`` of the folder's tokenizer_config.json, else ``default``."""
    tok_config_path = os.path.join(path, "tokenizer_config.json")
    if os.path.isfile(tok_config_path):
        return bool(_pretrained.read_json(tok_config_path).get("do_lower_case", default))
    return default


# Which tokenizer a folder without a family's config.json holds, most specific first.
_BY_FILES = ("byte_bpe", "deberta_sentencepiece", "sentencepiece", "wordpiece")
_TOKENIZER_BUILDERS = {
    "wordpiece": _wordpiece,
    "byte_bpe": _byte_bpe,
    "sentencepiece": _sentencepiece,
    "t5_sentencepiece": _t5_sentencepiece,
    "deberta_sentencepiece": _deberta_sentencepiece,
}
