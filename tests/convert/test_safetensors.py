"""Reading HF safetensors: bf16 and fp16 files load as float32, and the shards that
model.safetensors.index.json names must be files inside the checkpoint folder."""

import json
import os
import shutil

import ml_dtypes
import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

import tfmodels
from tfmodels.convert.pretrained import read_safetensors
from tfmodels.errors import CheckpointError

HALF = {"bf16": ml_dtypes.bfloat16, "fp16": np.float16}


@pytest.mark.parametrize("kind", sorted(HALF))
def test_half_precision_tensors_load_as_float32(tmp_path, kind):
    values = np.array([[0.5, -1.25, 3.0], [1e-3, 2.0**-8, 65504.0 / 2]], np.float32)
    save_file(
        {"w": values.astype(HALF[kind]), "ids": np.arange(3, dtype=np.int64)},
        str(tmp_path / "model.safetensors"),
    )
    tensors = read_safetensors(str(tmp_path))
    assert tensors["w"].dtype == np.float32 and tensors["ids"].dtype == np.int64
    np.testing.assert_array_equal(tensors["w"], values.astype(HALF[kind]).astype(np.float32))


@pytest.mark.parametrize("kind", sorted(HALF))
def test_a_half_precision_checkpoint_loads_through_from_pretrained(tmp_path, tiny_checkpoint, kind):
    """A tiny BERT saved in bf16 / fp16 (as HF's torch_dtype checkpoints are) builds the
    same model as its float32 weights rounded to that precision."""
    half = tmp_path / kind
    shutil.copytree(tiny_checkpoint, half)
    full = load_file(str(half / "model.safetensors"))
    save_file(
        {k: v.astype(HALF[kind]) if v.dtype == np.float32 else v for k, v in full.items()},
        str(half / "model.safetensors"),
    )
    model = tfmodels.from_pretrained(str(half))
    reference = tfmodels.from_pretrained(tiny_checkpoint)
    assert model.count_params() == reference.count_params()
    for got, want in zip(model.weights, reference.weights):
        assert got.dtype.name == "float32"
        np.testing.assert_array_equal(
            got.numpy(), want.numpy().astype(HALF[kind]).astype(np.float32)
        )


def write_sharded(folder, shards):
    """``shards``: {file name in the index: {tensor name: array}}; files are written
    under their own names inside ``folder`` when the name stays there."""
    folder.mkdir(exist_ok=True)
    weight_map = {}
    for name, tensors in shards.items():
        weight_map.update({t: name for t in tensors})
        target = folder / name
        if not os.path.isabs(name) and ".." not in name:
            save_file(tensors, str(target))
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    return str(folder)


def test_shards_load_from_inside_the_folder(tmp_path):
    folder = write_sharded(
        tmp_path / "ok",
        {
            "model-00001-of-00002.safetensors": {"a": np.ones(2, np.float32)},
            "model-00002-of-00002.safetensors": {"b": np.zeros(3, np.float16)},
        },
    )
    tensors = read_safetensors(folder)
    assert sorted(tensors) == ["a", "b"] and tensors["b"].dtype == np.float32


@pytest.mark.parametrize("name", ["../outside.safetensors", "sub/../../x.safetensors", "ABS"])
def test_a_shard_outside_the_folder_is_refused(tmp_path, name):
    outside = tmp_path / "outside.safetensors"
    save_file({"a": np.ones(2, np.float32)}, str(outside))
    name = str(outside) if name == "ABS" else name
    folder = write_sharded(tmp_path / "ckpt", {name: {"a": np.ones(2, np.float32)}})
    kind = "is an absolute path" if os.path.isabs(name) else "lies outside the checkpoint folder"
    with pytest.raises(CheckpointError, match=f"index.json: shard {name!r} {kind}"):
        read_safetensors(folder)


def test_a_link_leading_out_of_the_folder_is_refused(tmp_path):
    outside = tmp_path / "elsewhere.safetensors"
    save_file({"a": np.ones(2, np.float32)}, str(outside))
    folder = tmp_path / "ckpt"
    folder.mkdir()
    os.symlink(outside, folder / "model-1.safetensors")
    (folder / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"a": "model-1.safetensors"}})
    )
    with pytest.raises(CheckpointError, match="lies outside the checkpoint folder"):
        read_safetensors(str(folder))


def test_a_broken_index_is_one_clear_error(tmp_path):
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}}))
    with pytest.raises(CheckpointError, match="no weight_map"):
        read_safetensors(str(tmp_path))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"a": 3}}))
    with pytest.raises(CheckpointError, match="weight_map names shard 3, not a file name"):
        read_safetensors(str(tmp_path))
