"""Compares regenerated fixtures with the committed ones (dev-only; never imported by tests).

    /work/fixenv/bin/python tools/make_fixtures.py --out /tmp/fixtures_new
    /work/fixenv/bin/python tools/compare_fixtures.py /tmp/fixtures_new [--only NAME[,NAME]]

Every file of each committed fixture (tests/fixtures/<name>, a folder or a file) must be in
the new folder, and no other: JSON equal as JSON (where only the ``transformers_version``
stamp or another version string differs, that is reported, not failed), safetensors
tensors and .npz arrays equal in dtype, shape and value (else the max abs difference),
anything else byte-identical but for the output folder's own path (TF's ``checkpoint``
file names it). Names default to those both folders hold; exit status 1 if any differs.
"""

import argparse
import json
import os
import re

import numpy as np
from make_fixtures import FIXTURES

# Fields and strings that name the library version that wrote a file, not its content.
VERSION_FIELDS = ("transformers_version", "versions")
VERSION_TEXT = re.compile(r"transformers \d+\.\d+\.\d+")
TOLERATED = ("version stamp only", "output folder path only")


def load_arrays(path):
    if path.endswith(".npz"):
        with np.load(path) as data:
            return {k: data[k] for k in data.files}
    from safetensors.numpy import load_file

    return load_file(path)


def compare_arrays(old, new):
    """'' if equal, else what differs."""
    if sorted(old) != sorted(new):
        return f"keys differ: {sorted(set(old) ^ set(new))}"
    worst = 0.0
    for key, value in old.items():
        if value.dtype != new[key].dtype or value.shape != new[key].shape:
            return f"{key}: {value.dtype}{value.shape} vs {new[key].dtype}{new[key].shape}"
        if not np.array_equal(value, new[key]):
            worst = max(worst, float(np.max(np.abs(value.astype(np.float64) - new[key]))))
    return f"max abs diff {worst:.3g}" if worst else ""


def without_versions(value):
    if isinstance(value, dict):
        return {k: without_versions(v) for k, v in value.items() if k not in VERSION_FIELDS}
    return VERSION_TEXT.sub("transformers X", value) if isinstance(value, str) else value


def compare_json(old, new):
    old, new = json.loads(old), json.loads(new)
    if old == new:
        return ""
    if without_versions(old) == without_versions(new):
        return "version stamp only"
    return f"differs in {sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))}"


def compare_file(old_path, new_path, old_root, new_root):
    """'' if the new file equals the old one, else what differs."""
    if not os.path.exists(new_path):
        return "not produced"
    with open(old_path, "rb") as f, open(new_path, "rb") as g:
        old, new = f.read(), g.read()
    if old == new:
        return ""
    if old == new.replace(new_root.encode(), old_root.encode()):
        return "output folder path only"
    if old_path.endswith(".json"):
        return compare_json(old, new)
    if old_path.endswith((".npz", ".safetensors")):
        return compare_arrays(load_arrays(old_path), load_arrays(new_path))
    return "bytes differ"


def compare(name, new_root, old_root=FIXTURES):
    """{file: difference} for the files of fixture ``name`` that are not identical."""
    old_root, new_root = os.path.abspath(old_root), os.path.abspath(new_root)
    old, new = os.path.join(old_root, name), os.path.join(new_root, name)
    if not os.path.isdir(old):
        return {name: d for d in [compare_file(old, new, old_root, new_root)] if d}
    extra = set(os.listdir(new)) - set(os.listdir(old)) if os.path.isdir(new) else set()
    result = {file: "not committed" for file in sorted(extra)}
    for file in sorted(os.listdir(old)):
        difference = compare_file(
            os.path.join(old, file), os.path.join(new, file), old_root, new_root
        )
        if difference:
            result[file] = difference
    return result


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("new", help="folder of regenerated fixtures")
    parser.add_argument("--reference", default=FIXTURES, help="default: tests/fixtures")
    parser.add_argument("--only", metavar="NAME[,NAME]", help="just these fixtures")
    args = parser.parse_args()
    names = (
        args.only.split(",")
        if args.only
        else sorted(set(os.listdir(args.new)) & set(os.listdir(args.reference)))
    )
    failed = False
    for name in names:
        differences = compare(name, args.new, args.reference)
        failed |= any(d not in TOLERATED for d in differences.values())
        print(
            f"{name:32} "
            + ("; ".join(f"{file}: {d}" for file, d in differences.items()) or "identical")
        )
    raise SystemExit(1 if failed else 0)


if __name__ == "__main__":
    main()
