"""Writes under a temporary name, renamed over the real one only when complete.

A killed or failed run thus never leaves a half-written file (or SavedModel
directory) under the real name, and the temporary is removed on error. Paths with a
scheme (``gs://`` for TPU users, ``ram://``) go through ``tf.io.gfile``.
"""

import contextlib
import os
import shutil

import tensorflow as tf


def _temporary(path, suffix=""):
    return f"{path}.tmp-{os.getpid()}{suffix}"


def _remove(path):
    if "://" in path:  # gs://, ram://: tf.io.gfile's file systems
        if tf.io.gfile.isdir(path):
            tf.io.gfile.rmtree(path)
        elif tf.io.gfile.exists(path):
            tf.io.gfile.remove(path)
    elif os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


@contextlib.contextmanager
def atomic_path(path, suffix=""):
    """Yields a temporary name next to ``path`` for writers that take a path
    (matplotlib's savefig, TFRecordWriter, SavedModel directories, gfile.copy).

    It is renamed over ``path`` when the block ends normally and removed (file or
    directory tree) when it raises, so ``path`` never holds a partial write.
    ``suffix`` ends the temporary name, for writers that read the format from it
    (``".png"``).
    """
    tmp = _temporary(path, suffix)
    _remove(tmp)  # a stale leftover of this pid
    try:
        yield tmp
        if "://" in path:
            tf.io.gfile.rename(tmp, path, overwrite=True)
        else:
            os.replace(tmp, path)
    finally:
        _remove(tmp)


@contextlib.contextmanager
def atomic_write(path, mode="w", encoding="utf-8"):
    """Yields a file open for writing under a temporary name, renamed over ``path``
    once the block ends without an exception and deleted otherwise, so a killed or
    failed run never leaves a half-written ``path``. Binary when "b" is in ``mode``."""
    with atomic_path(path) as tmp:
        if "://" in path:
            with tf.io.gfile.GFile(tmp, mode) as f:  # utf-8 in text mode
                yield f
        else:
            with open(tmp, mode, encoding=None if "b" in mode else encoding) as f:
                yield f
