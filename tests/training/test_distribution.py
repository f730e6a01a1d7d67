"""Training under MirroredStrategy (2 logical CPUs) and MultiWorkerMirrored (2 processes)."""

import json
import os
import socket
import subprocess
import sys

import numpy as np
import pytest
import tf_keras as keras

from tfmodels.errors import ConfigError
from tfmodels.training import distribution
from tfmodels.training.distribution import auto_precision, get_strategy, set_precision

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _env(**extra):
    env = dict(os.environ, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", **extra)
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train(tmp_path, strategy, devices):
    out = tmp_path / f"{strategy}.npz"
    subprocess.run(
        [sys.executable, WORKER, strategy, str(devices), str(tmp_path / strategy), str(out)],
        check=True,
        env=_env(),
        timeout=300,
        capture_output=True,
    )
    return np.load(out)


@pytest.fixture(scope="module")
def single_device(tmp_path_factory):
    """The weights of the same 4 steps on one device, with the same global batch of 8."""
    result = _train(tmp_path_factory.mktemp("single"), "default", 1)
    assert int(result["replicas"]) == 1 and bool(result["changed"])
    return result


def assert_same_weights(result, single_device):
    """Equal to single-device training (a loss summed instead of averaged over replicas,
    or a gradient not reduced, moves the SGD weights by far more than 1e-5)."""
    keys = [k for k in single_device.files if k.startswith("w")]
    assert keys and set(keys) <= set(result.files)
    worst = max(float(np.max(np.abs(result[k] - single_device[k]))) for k in keys)
    assert worst <= 1e-5, worst
    # Evaluation under the strategy: every row's logits, in order.
    assert result["logits"].shape == single_device["logits"].shape == (7, 2)
    np.testing.assert_allclose(result["logits"], single_device["logits"], atol=1e-5)


def test_mirrored_strategy_on_two_logical_cpus_equals_one_device(tmp_path, single_device):
    result = _train(tmp_path, "mirrored", 2)
    assert int(result["replicas"]) == 2
    assert_same_weights(result, single_device)
    assert os.path.isdir(tmp_path / "mirrored" / "checkpoints")


@pytest.mark.slow
def test_multi_worker_mirrored_equals_one_device(tmp_path, single_device):
    ports = [_free_port(), _free_port()]
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    WORKER,
                    "multi_worker_mirrored",
                    "1",
                    str(tmp_path / "run"),
                    str(tmp_path / f"w{index}.npz"),
                ],
                env=_env(TF_CONFIG=tf_config),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    for p in procs:
        output, _ = p.communicate(timeout=300)
        assert p.returncode == 0, output.decode()[-3000:]
    a, b = np.load(tmp_path / "w0.npz"), np.load(tmp_path / "w1.npz")
    assert int(a["replicas"]) == 2 and bool(a["changed"])
    assert_same_weights(a, single_device)
    assert_same_weights(b, single_device)
    # Only the chief writes the real checkpoints.
    assert os.path.isdir(tmp_path / "run" / "checkpoints")
    assert os.path.isdir(tmp_path / "run" / "worker_tmp" / "1")


def test_tpu_without_a_tpu_is_a_clear_error():
    with pytest.raises(ConfigError, match="no TPU"):
        get_strategy("tpu")
    with pytest.raises(ConfigError, match="--tpu=grpc://127.0.0.1:.*no TPU reachable"):
        get_strategy("tpu", f"grpc://127.0.0.1:{_free_port()}")


def test_unknown_strategy_and_precision():
    with pytest.raises(ConfigError, match="unknown strategy 'horovod'"):
        get_strategy("horovod")
    with pytest.raises(ConfigError, match="unknown policy 'int4'"):
        set_precision("int4")


@pytest.mark.parametrize(
    "flags, gpus, strategy, expected",
    [
        ({"avx512f", "avx512_vnni"}, [], "default", "float32"),  # AVX-512 without bf16
        ({"avx2", "fma"}, [], "default", "float32"),
        ({"avx512f", "avx512_bf16"}, [], "default", "mixed_bfloat16"),
        ({"amx_tile", "amx_bf16"}, [], "mirrored", "mixed_bfloat16"),
        ({"avx2"}, [(8, 0)], "default", "mixed_bfloat16"),  # an A100
        ({"avx2"}, [(7, 5)], "default", "mixed_float16"),  # a T4: float16, loss scaling
        ({"avx2"}, [], "tpu", "mixed_bfloat16"),
    ],
)
def test_auto_precision_reads_the_hardware(flags, gpus, strategy, expected):
    policy, why = auto_precision(strategy, flags=flags, gpus=gpus)
    assert policy == expected, why
    assert why  # the log says why


def test_auto_precision_is_set_and_said(monkeypatch):
    monkeypatch.setattr(distribution, "cpu_flags", lambda path=None: {"avx512_bf16"})
    try:
        assert set_precision("auto") == ("mixed_bfloat16", "auto: the CPU has avx512_bf16", False)
        assert keras.mixed_precision.global_policy().name == "mixed_bfloat16"
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert set_precision("float32") == ("float32", "as configured", False)


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx512f amx_bf16\nbugs\t: x\n")
    assert distribution.cpu_flags(str(cpuinfo)) == {"fpu", "avx512f", "amx_bf16"}
    assert distribution.cpu_flags(str(tmp_path / "absent")) == set()
