"""Stored and gzip-compressed size of a model file or SavedModel directory.

Pruning and clustering leave the tensors the same size in a float file (a zero
takes four bytes); what they change is how well the file compresses, which is
what a download or an app bundle pays for. So the figure to compare with the dense
model is the gzip size (Han et al. 2016 report Deep Compression the same way). A
directory is measured as one tar stream of its files in sorted order with
normalized metadata, so the figure does not depend on timestamps or file order.
"""

import gzip
import os
import tarfile

from tfmodels.errors import DataError

_CHUNK = 1 << 20


class _Counter:
    """A write-only file that only counts the bytes written to it."""

    def __init__(self):
        self.size = 0

    def write(self, data):
        self.size += len(data)
        return len(data)

    def flush(self):
        pass


def _files(path):
    if os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        raise DataError(f"no such file or directory: {path}")
    found = []
    for root, dirs, names in os.walk(path):
        dirs.sort()
        found += [os.path.join(root, name) for name in sorted(names)]
    return found


def raw_size(path):
    """Bytes on disk of a file, or of all files under a directory."""
    return sum(os.path.getsize(f) for f in _files(path))


def gzip_size(path, level=9):
    """Bytes of ``path`` after gzip (a directory: gzip of a tar of its files)."""
    counter = _Counter()
    with gzip.GzipFile(fileobj=counter, mode="wb", compresslevel=level, mtime=0) as out:
        if os.path.isfile(path):
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    out.write(chunk)
        else:
            with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                for name in _files(path):
                    info = tar.gettarinfo(name, arcname=os.path.relpath(name, path))
                    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                    with open(name, "rb") as f:
                        tar.addfile(info, f)
    return counter.size


def sizes(path, level=9):
    """``{"bytes": raw size, "gzip_bytes": gzip size}`` of a file or directory."""
    return {"bytes": raw_size(path), "gzip_bytes": gzip_size(path, level)}
