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
    return registry.family_module(family, source=f"{path}: family").Config.from_dict(values, path)


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
    """The in-graph tokenizer + packer of a checkpoint directory (vocab.txt, tokenizer_config.json).

    ``seq_length`` may not exceed the model's ``max_position_embeddings``.
    """
    from tfmodels.tokenizers import Preprocessor, WordPieceTokenizer, byte_bpe_preprocessor

    path = os.fspath(path)
    if all(os.path.isfile(os.path.join(path, f)) for f in ("vocab.json", "merges.txt")):
        return byte_bpe_preprocessor(path, seq_length)  # byte-level BPE (RoBERTa, GPT-2)
    vocab = os.path.join(path, "vocab.txt")
    spiece = os.path.join(path, "spiece.model")  # SentencePiece (ALBERT) instead of WordPiece
    spm = os.path.join(path, "spm.model")  # SentencePiece (DeBERTa-v2/v3), cased by default
    if not any(os.path.isfile(f) for f in (vocab, spiece, spm)):
        raise DataError(f"no vocab.txt in {path}")
    lower_case = not os.path.isfile(spm)
    tok_config_path = os.path.join(path, "tokenizer_config.json")
    if os.path.isfile(tok_config_path):
        lower_case = bool(_pretrained.read_json(tok_config_path).get("do_lower_case", lower_case))
    for config_name in ("config.json", "bert_config.json"):
        config_path = os.path.join(path, config_name)
        if os.path.isfile(config_path):
            max_positions = _pretrained.read_json(config_path).get("max_position_embeddings")
            if max_positions and seq_length > max_positions:
                raise ConfigError(f"seq_length {seq_length} exceeds the model's "
                                  f"max_position_embeddings {max_positions} ({config_path})")
    if os.path.isfile(spm):
        from tfmodels.tokenizers.sentencepiece import SentencePieceTokenizer
        return Preprocessor(SentencePieceTokenizer(spm, lower_case=lower_case, keep_accents=True),
                            seq_length=seq_length, pad_token="[PAD]")  # [CLS]=1 [SEP]=2 [PAD]=0
    config_path = os.path.join(path, "config.json")
    if os.path.isfile(spiece) and os.path.isfile(config_path) and \
            _pretrained.read_json(config_path).get("model_type") == "t5":
        from tfmodels.tokenizers.sentencepiece import t5_preprocessor
        return t5_preprocessor(path, seq_length)  # cased, "text </s>", no [CLS]
    if os.path.isfile(spiece):
        from tfmodels.tokenizers.sentencepiece import sentencepiece_preprocessor
        return sentencepiece_preprocessor(path, seq_length)
    return Preprocessor(WordPieceTokenizer(vocab, lower_case=lower_case), seq_length=seq_length)
