"""The command-line entry points: pyproject.toml's [project.scripts] name the mains in
tfmodels/cli, the top-level run_*.py files call the same mains, --help lists every flag a
script takes, and TensorFlow's C++ start-up lines stay out of a script's output.

One subprocess only (each one that loads TensorFlow costs about 5 s); the rest in-process.
"""

import ast
import contextlib
import importlib
import os
import re
import subprocess
import sys

import pytest
from absl import flags

from tests.conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+

FLAGS = flags.FLAGS
with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    ENTRY_POINTS = tomllib.load(f)["project"]["scripts"]
SHARED = {
    "config",
    "set",
    "model_dir",
    "distribution_strategy",
    "tpu",
    "mixed_precision",
    "jit_compile",
}
NOT_TRAINING = {"fewshot", "export", "benchmark", "create_pretraining_data"}  # no shared flags
NOISE = [
    "absl::InitializeLog",
    "port.cc:",
    "custom operations are on",
    "cudart_stub.cc",
    "Could not find cuda drivers",
    "cpu_feature_guard.cc",
    "cuda_platform.cc",
    "failed call to cuInit",
]


@contextlib.contextmanager
def flags_of(module):
    """Yields the names of the flags the script module defines, then forgets them: the
    scripts reuse names (--init_from, --data_dir, ...), which absl defines once a process."""
    before = set(FLAGS)
    module.define_flags()
    names = set(FLAGS) - before
    try:
        yield names
    finally:
        for name in names:
            delattr(FLAGS, name)


def test_help_lists_every_flag_and_no_tensorflow_start_up_lines():
    from tfmodels.cli import squad

    with flags_of(squad) as names:
        assert SHARED < names
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}  # the default
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "run_squad.py"), "--help"],
        env=dict(env, PYTHONPATH=ROOT),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert result.stdout.startswith(squad.__doc__), result.stdout[:500] + result.stderr[-2000:]
    assert "TF_CPP_MIN_LOG_LEVEL=0" in result.stdout
    listed = {
        name
        for name in names
        if f"  --{name}:" in result.stdout or f"  --[no]{name}:" in result.stdout
    }
    assert listed == names
    assert [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if any(noise in line for noise in NOISE)
    ] == []


@pytest.mark.parametrize("command", sorted(ENTRY_POINTS))
def test_entry_point_imports_and_its_flags_are_its_key_flags(command):
    module_name, function = ENTRY_POINTS[command].split(":")
    module = importlib.import_module(module_name)
    assert callable(getattr(module, function))
    with flags_of(module) as names:
        assert {flag.name for flag in FLAGS.get_key_flags_for_module(module)} == names
        assert (SHARED <= names) == (module_name.rsplit(".", 1)[1] not in NOT_TRAINING)


def script_file(module):
    """The top-level file of tfmodels.cli.<module>: run_<module>.py, but
    create_pretraining_data.py keeps its name."""
    return (module if module == "create_pretraining_data" else f"run_{module}") + ".py"


def test_the_top_level_scripts_call_the_package_mains():
    modules = {target.split(":")[0].rsplit(".", 1)[1] for target in ENTRY_POINTS.values()}
    cli = {
        f[:-3]
        for f in os.listdir(os.path.join(ROOT, "tfmodels", "cli"))
        if f.endswith(".py") and f != "__init__.py"
    }
    assert len(ENTRY_POINTS) == 11 and modules == cli
    scripts = {f for f in os.listdir(ROOT) if f.startswith("run_") and f.endswith(".py")}
    assert scripts | {"create_pretraining_data.py"} == {script_file(m) for m in modules}
    commands = {
        target.split(":")[0].rsplit(".", 1)[1]: command for command, target in ENTRY_POINTS.items()
    }
    for name in modules:
        with open(os.path.join(ROOT, script_file(name)), encoding="utf-8") as f:
            source = f.read()
        # A docstring naming its command, then only the import of the package's main.
        assert f"`{commands[name]}`" in ast.get_docstring(ast.parse(source)), name
        assert source.endswith(
            f'from tfmodels.cli.{name} import main\n\nif __name__ == "__main__":\n    main()\n'
        ), name


@pytest.mark.parametrize("command", ENTRY_POINTS)
def test_the_help_text_names_only_files_that_exist(command):
    """Every configs/... YAML a script's docstring (its --help) shows in an example exists."""
    module = importlib.import_module(ENTRY_POINTS[command].split(":")[0])
    for path in re.findall(r"configs/[\w/.-]+\.yaml", module.__doc__):
        assert os.path.isfile(os.path.join(ROOT, path)), (command, path)
