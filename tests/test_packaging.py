"""The package installs what it promises: a wheel built from pyproject.toml holds every
module and the named model configurations, and, installed on its own, builds a named
model from another folder (not from this checkout)."""

import glob
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel, built from a copy of the sources (no build/ or egg-info left here)."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    shutil.copytree(
        os.path.join(ROOT, "tfmodels"),
        source / "tfmodels",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(root / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (path,) = glob.glob(str(root / "dist" / "tfmodels-*.whl"))
    return path


def test_the_wheel_holds_every_module_and_the_named_configs(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    package = os.path.join(ROOT, "tfmodels")
    expected = {
        os.path.relpath(os.path.join(folder, f), ROOT)
        for folder, _, files in os.walk(package)
        if "__pycache__" not in folder
        for f in files
        if f.endswith((".py", ".yaml"))
    }
    assert {
        "tfmodels/convert/__init__.py",
        "tfmodels/pretraining/__init__.py",
        "tfmodels/configs/models/bert_base_uncased.yaml",
    } <= expected
    assert sorted(expected - names) == []
    assert not [n for n in names if n.startswith(("tests/", "configs/", "tools/"))]


def test_the_installed_wheel_builds_a_named_model_from_another_folder(wheel, tmp_path):
    target = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), wheel],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import tfmodels; print(tfmodels.__file__); "
        "print(tfmodels.build('bert_base_uncased').count_params())"
    )
    env = dict(os.environ, PYTHONPATH=str(target), TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    location, count = result.stdout.split()[-2:]
    assert location.startswith(str(target))  # the installed copy, not this checkout
    assert int(count) == 109_482_240
