"""``--distribution_strategy`` and ``--mixed_precision`` -> a tf.distribute strategy and policy."""

import glob
import os
import socket

import tensorflow as tf
import tf_keras as keras

from tfmodels.errors import ConfigError

STRATEGIES = ("default", "one_device", "mirrored", "multi_worker_mirrored", "tpu")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")


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


def set_precision(name):
    """Sets the global Keras policy; returns True when float16 loss scaling is needed."""
    if name not in PRECISIONS:
        raise ConfigError(
            f"--mixed_precision: unknown policy {name!r}; known: {', '.join(PRECISIONS)}"
        )
    keras.mixed_precision.set_global_policy(name)
    return name == "mixed_float16"
