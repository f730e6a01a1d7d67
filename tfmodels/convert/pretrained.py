"""Loading and saving whole checkpoints: the HF directory layout and Google TF checkpoints.

HF layout: ``config.json`` (``model_type``, ``architectures``, hyper-parameters) and
``model.safetensors`` (or shards listed in ``model.safetensors.index.json``), read
with numpy alone. Google layout: ``bert_config.json`` and a TF1 checkpoint
(``bert_model.ckpt.*``), read with ``tf.train.load_checkpoint``.
"""

import glob
import inspect
import json
import logging
import os
import re
import shutil

import numpy as np
import tensorflow as tf
from safetensors import SafetensorError
from safetensors.numpy import load_file, save_file

from tfmodels.atomic import atomic_path, atomic_write
from tfmodels.convert.weight_map import check_and_assign, read_weights
from tfmodels.errors import CheckpointError, ConfigError
from tfmodels.models import registry
from tfmodels.text_files import read_text

TOKENIZER_FILES = (
    "vocab.txt",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "vocab.json",
    "merges.txt",
    "spiece.model",
    "spm.model",
)
_OPTIMIZER_STATE = re.compile(r"(adam_[mv]|global_step|bad_steps|good_steps|loss_scale)$")
log = logging.getLogger(__name__)


def read_json(path):
    """A checkpoint's JSON file (UTF-8, a byte-order mark dropped); CheckpointError if
    it is missing or not JSON."""
    text = read_text(path, CheckpointError)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path} is not valid JSON: {e}") from None


def read_safetensors(directory):
    """All tensors of a HF directory as float32 numpy arrays, shards included."""
    single = os.path.join(directory, "model.safetensors")
    index = os.path.join(directory, "model.safetensors.index.json")
    if os.path.isfile(single):
        files = [single]
    elif os.path.isfile(index):
        files = [shard_path(directory, s, index) for s in _shard_names(read_json(index), index)]
    elif glob.glob(os.path.join(directory, "pytorch_model*.bin")):
        raise CheckpointError(
            f"{directory} holds only PyTorch pickle weights; tfmodels reads "
            "safetensors (convert with safetensors.torch.save_file)"
        )
    else:
        raise CheckpointError(f"no model.safetensors in {directory}")
    tensors = {}
    for path in files:
        try:
            loaded = load_file(path)
        except (SafetensorError, OSError, ValueError) as e:
            raise CheckpointError(f"cannot read {path}: {e}") from None
        tensors.update({k: v.astype(np.float32) if _is_float(v) else v for k, v in loaded.items()})
    return tensors


def _is_float(array):
    """float16/32/64, and ml_dtypes' bfloat16 and float8 types (numpy kind "V")."""
    return array.dtype.kind == "f" or array.dtype.name.startswith(("bfloat16", "float8"))


def _shard_names(index, path):
    """The shard file names of a ``model.safetensors.index.json``'s weight_map."""
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise CheckpointError(f"{path}: no weight_map (tensor name -> shard file) in the index")
    names = set(weight_map.values())
    bad = sorted(repr(n) for n in names if not isinstance(n, str) or not n)
    if bad:
        raise CheckpointError(f"{path}: weight_map names shard {bad[0]}, not a file name")
    return sorted(names)


def shard_path(directory, name, index):
    """The path of shard ``name`` inside ``directory``: an absolute path, or one that
    leads out of the folder (``../x.safetensors``, a link elsewhere), is refused."""
    if os.path.isabs(name) or os.path.splitdrive(name)[0]:
        raise CheckpointError(
            f"{index}: shard {name!r} is an absolute path; shards are files in {directory}"
        )
    path = os.path.join(directory, name)
    root = os.path.realpath(directory)
    if os.path.commonpath([root, os.path.realpath(path)]) != root:
        raise CheckpointError(
            f"{index}: shard {name!r} lies outside the checkpoint folder {directory}"
        )
    return path


def _model_weights(model, family):
    converter = registry.converter_module(family)
    backbone = converter.backbone_weights(getattr(model, "encoder", model))
    return converter, backbone, converter.head_weights(model)


def build_model(family, architecture, config, head_args, source):
    """A fresh model of ``family``; ``head_args`` not taken by its heads are ignored."""
    cls = registry.model_class(family, architecture, source)
    accepted = inspect.signature(cls._heads).parameters if hasattr(cls, "_heads") else {}
    return cls(config, **{k: v for k, v in head_args.items() if k in accepted})


def _head_args(hf_config, num_labels):
    if num_labels is None:
        num_labels = len(hf_config.get("id2label") or {}) or hf_config.get("num_labels", 2)
    return {"num_labels": num_labels}


def from_pretrained(path, architecture=None, num_labels=None):
    """Model from a HF directory or a Google BERT checkpoint directory.

    ``architecture`` picks a different head than the checkpoint's own (for
    fine-tuning a backbone): head weights the checkpoint lacks are freshly
    initialized (listed in ``model.newly_initialized``, and logged as a warning) and
    head weights the new model lacks are dropped. Without it, every weight must match
    exactly.
    """
    path = os.fspath(path)
    if not os.path.isdir(path):
        raise CheckpointError(f"checkpoint directory not found: {path}")
    if os.path.isfile(os.path.join(path, "config.json")):
        model, tensors, weights, optional, source = _load_hf(path, architecture, num_labels)
    elif os.path.isfile(os.path.join(path, "bert_config.json")):
        model, tensors, weights, optional, source = _load_google(path, architecture, num_labels)
    else:
        raise CheckpointError(
            f"{path} has neither config.json (HuggingFace layout) nor "
            "bert_config.json (Google BERT checkpoint)"
        )
    fresh = []
    if architecture is not None:
        dropped = [n for n in tensors if n not in weights]
        if dropped:
            log.info("not used by %s: %s", architecture, ", ".join(sorted(dropped)))
        tensors = {n: t for n, t in tensors.items() if n in weights}
        fresh = sorted(n for n in optional if n not in tensors)
        if fresh:
            log.warning(
                "%s: newly initialized (not in %s; train before use): %s",
                architecture,
                path,
                ", ".join(fresh),
            )
    check_and_assign(weights, tensors, source, optional=optional if architecture else ())
    model.source_path = path
    model.newly_initialized = fresh
    id2label = _read_id2label(path)
    if id2label and len(id2label) == getattr(model, "head_args", {}).get("num_labels"):
        model.label_names = id2label
    return model


def _read_id2label(path):
    config_path = os.path.join(path, "config.json")
    if not os.path.isfile(config_path):
        return None
    id2label = read_json(config_path).get("id2label") or {}
    return [id2label[k] for k in sorted(id2label, key=int)] if id2label else None


def _load_hf(path, architecture, num_labels):
    hf_config = read_json(os.path.join(path, "config.json"))
    family = hf_config.get("model_type")
    registry.family(family, source=f"{path}/config.json model_type")
    arch = (
        architecture
        or (hf_config.get("architectures") or [registry.backbone_architecture(family)])[0]
    )
    source = f"{path}/config.json"
    config = registry.family(family).config_class.from_hf(hf_config, source)
    model = build_model(family, arch, config, _head_args(hf_config, num_labels), source)
    converter, backbone, heads = _model_weights(model, family)
    prefix = converter.PREFIX + "."
    tensors = {}
    for name, value in read_safetensors(path).items():
        name = name[len(prefix) :] if name.startswith(prefix) else name
        if name not in converter.IGNORED:
            tensors[name] = value
    return model, tensors, {**backbone, **heads}, heads, f"{path}/model.safetensors"


def _load_google(path, architecture, num_labels):
    from tfmodels.convert import bert as converter

    config_path = os.path.join(path, "bert_config.json")
    config = registry.family("bert").config_class.from_hf(read_json(config_path), config_path)
    prefix = tf.train.latest_checkpoint(path)
    if prefix is None:
        indexes = glob.glob(os.path.join(path, "*.ckpt*.index"))
        if not indexes:
            raise CheckpointError(f"no TF checkpoint (*.ckpt.index) in {path}")
        prefix = indexes[0][: -len(".index")]
    try:
        reader = tf.train.load_checkpoint(prefix)
        names = [n for n in reader.get_variable_to_shape_map() if not _OPTIMIZER_STATE.search(n)]
        tensors = {n: reader.get_tensor(n) for n in names}
    except (tf.errors.OpError, ValueError) as e:
        raise CheckpointError(f"cannot read TF checkpoint {prefix}: {e}") from None
    if architecture is None:
        architecture_found = (
            "BertForPreTraining" if any(n.startswith("cls/") for n in tensors) else "BertModel"
        )
    else:
        architecture_found = architecture
    model = build_model(
        "bert", architecture_found, config, {"num_labels": num_labels or 2}, config_path
    )
    _, backbone, heads = _model_weights(model, "bert")
    weights = converter.google_weights(backbone, heads)
    optional = converter.google_weights({}, heads)
    return model, tensors, weights, optional, prefix


def save_pretrained(model, path):
    """Writes ``model`` in the HF layout (config.json + model.safetensors).

    Files are written under temporary names and renamed, so an interrupted save
    leaves no half-written file. Tokenizer files of the checkpoint the model came
    from are copied along.
    """
    config = getattr(model, "config", None)
    if config is None or not getattr(model, "architecture", None):
        raise ConfigError("save_pretrained takes a tfmodels model (from build or from_pretrained)")
    family = config.family
    converter, backbone, heads = _model_weights(model, family)
    is_backbone = model.architecture == registry.backbone_architecture(family)
    prefix = "" if is_backbone else converter.PREFIX + "."
    tensors = {prefix + k: v for k, v in read_weights(backbone).items()}
    tensors.update(read_weights(heads))
    hf_config = {"architectures": [model.architecture], "model_type": family, **config.to_hf()}
    num_labels = getattr(model, "head_args", {}).get("num_labels")
    if num_labels is not None:
        names = getattr(model, "label_names", None) or [f"LABEL_{i}" for i in range(num_labels)]
        hf_config["num_labels"] = num_labels
        hf_config["id2label"] = {str(i): name for i, name in enumerate(names)}
        hf_config["label2id"] = {name: i for i, name in enumerate(names)}
    os.makedirs(path, exist_ok=True)
    with atomic_path(os.path.join(path, "model.safetensors")) as tmp:
        save_file(tensors, tmp, metadata={"format": "pt"})
    with atomic_write(os.path.join(path, "config.json")) as f:
        json.dump(hf_config, f, indent=2, sort_keys=True)
    source = getattr(model, "source_path", None)
    for name in TOKENIZER_FILES:
        if (
            source
            and os.path.isfile(os.path.join(source, name))
            and os.path.abspath(source) != os.path.abspath(path)
        ):
            with atomic_path(os.path.join(path, name)) as tmp:
                shutil.copyfile(os.path.join(source, name), tmp)
    return path
