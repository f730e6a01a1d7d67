"""``--distribution_strategy`` and ``--mixed_precision`` -> a tf.distribute strategy and policy.

``--mixed_precision=auto`` (the default) reads the hardware: bfloat16 compute where it
has bfloat16 arithmetic (a CPU with AVX512-BF16 or AMX, a TPU, a GPU of compute
capability 8.0 or later), float16 with loss scaling on older GPUs, float32 otherwise.
Variables stay float32 under either mixed policy.
"""

import glob
import os
import socket

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored", "tpu")
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")  # /proc/cpuinfo names of bf16 arithmetic
CPUINFO = "/proc/cpuinfo"


def get_strategy(name="default", tpu=None):
    """The strategy called ``name``. ``tpu`` is the TPU address for ``name="tpu"``."""
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "one_device":
        gpus = tf.config.list_logical_devices("GPU")
        return tf.distribute.OneDeviceStrategy(gpus[0].name if gpus else "/cpu:0")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker_mirrored":
        return tf.distribute.MultiWorkerMirroredStrategy()
    if name == "tpu":
        return _tpu_strategy(tpu)
    raise ConfigError(
        f"--distribution_strategy: unknown strategy {name!r}; known: {', '.join(STRATEGIES)}"
    )


def _check_tpu_reachable(address):
    """Fails fast instead of letting TPU initialization wait on an absent host."""
    if not address:
        if not (os.environ.get("TPU_NAME") or glob.glob("/dev/accel*") or glob.glob("/dev/vfio/*")):
            raise ConfigError(
                "--distribution_strategy=tpu: no TPU found on this machine "
                "and no --tpu address given"
            )
        return
    target = address.split("://", 1)[-1]
    host, _, port = target.rpartition(":")
    if host and port.isdigit():
        try:
            socket.create_connection((host, int(port)), timeout=5).close()
        except OSError as e:
            raise ConfigError(f"--tpu={address}: no TPU reachable ({e})") from None


def _tpu_strategy(address):
    _check_tpu_reachable(address)
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=address or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError, RuntimeError) as e:
        where = f"at {address!r}" if address else "(no --tpu address given, none found locally)"
        raise ConfigError(
            f"--distribution_strategy=tpu: no TPU reachable {where}: "
            f"{str(e).splitlines()[0] if str(e) else type(e).__name__}"
        ) from None
    return tf.distribute.TPUStrategy(resolver)


def cpu_flags(path=None):
    """The CPU's feature flags (empty where the file is absent, e.g. not on Linux)."""
    try:
        with open(path or CPUINFO) as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def auto_precision(strategy_name="default", flags=None, gpus=None):
    """``(policy, why)``: the fastest precision this hardware computes natively.
    ``flags`` (CPU flags) and ``gpus`` (their compute capabilities) default to this
    machine's."""
    if strategy_name == "tpu":
        return "mixed_bfloat16", "TPUs compute in bfloat16"
    if gpus is None:
        gpus = [
            tf.config.experimental.get_device_details(g).get("compute_capability")
            for g in tf.config.list_physical_devices("GPU")
        ]
    if gpus:
        if all(c and tuple(c) >= (8, 0) for c in gpus):
            return "mixed_bfloat16", "the GPU computes in bfloat16 (compute capability 8.0+)"
        return "mixed_float16", "the GPU has no bfloat16: float16 with loss scaling"
    flags = cpu_flags() if flags is None else set(flags)
    found = [f for f in BF16_CPU_FLAGS if f in flags]
    if found:
        return "mixed_bfloat16", f"the CPU has {' and '.join(found)}"
    return "float32", f"the CPU has no bfloat16 instructions ({', '.join(BF16_CPU_FLAGS)})"


def resolve_precision(name, strategy_name="default"):
    """``(policy, why)`` for ``--mixed_precision=name`` (``auto`` reads the hardware)."""
    if name not in PRECISIONS:
        raise ConfigError(
            f"--mixed_precision: unknown policy {name!r}; known: {', '.join(PRECISIONS)}"
        )
    if name == "auto":
        policy, why = auto_precision(strategy_name)
        return policy, f"auto: {why}"
    return name, "as configured"


def set_precision(name, strategy_name="default"):
    """Sets the global Keras policy for ``name`` (``auto`` resolved); returns
    ``(policy, why, loss_scale)``, ``loss_scale`` True where float16 needs it."""
    policy, why = resolve_precision(name, strategy_name)
    keras.mixed_precision.set_global_policy(policy)
    return policy, why, policy == "mixed_float16"


def on_replicas(fn, batch):
    """``fn(batch)`` under the current strategy: the batch's rows are shared out over its
    replicas in order (the last shares may be short or empty) and the outputs joined
    back in that order. With one replica it is ``fn(batch)``."""
    strategy = tf.distribute.get_strategy()
    replicas = strategy.num_replicas_in_sync
    if replicas == 1:
        return fn(batch)
    rows = tf.shape(tf.nest.flatten(batch)[0])[0]
    share = (rows + replicas - 1) // replicas

    def rows_of(context):
        start = tf.minimum(context.replica_id_in_sync_group * share, rows)
        return tf.nest.map_structure(lambda t: t[start : start + share], batch)

    values = strategy.experimental_distribute_values_from_function(rows_of)
    return strategy.gather(strategy.run(fn, args=(values,)), axis=0)
