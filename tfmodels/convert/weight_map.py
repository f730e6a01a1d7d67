"""Name maps between our variables and checkpoint tensors, and the checked load.

A family's converter lists ``{checkpoint name: (variable, transpose)}``; PyTorch
``Linear`` weights are [out, in] where Keras kernels are [in, out], hence
``transpose``. Loading checks every name and shape first and reports all problems
in one error, so a checkpoint never loads partially.
"""

import numpy as np

from tfmodels.errors import CheckpointError

_MAX_LISTED = 15


class Reshaped:
    """A variable seen in the checkpoint's ``shape`` (BART's ``final_logits_bias`` [1, V],
    XLNet's per-head projections [H, heads, head_size]), transposed first with
    ``transpose``; enough of a variable for :func:`check_and_assign`/:func:`read_weights`."""

    def __init__(self, variable, shape, transpose=False):
        self.variable = variable
        self.shape = tuple(shape)
        self.transpose = transpose

    def assign(self, value):
        own = tuple(self.variable.shape)
        value = np.reshape(value, own[::-1] if self.transpose else own)
        self.variable.assign(value.T if self.transpose else value)

    def numpy(self):
        value = self.variable.numpy()
        return np.reshape(value.T if self.transpose else value, self.shape)


def add_dense(weights, name, layer, transpose=True):
    weights[f"{name}.weight"] = (layer.kernel, transpose)
    weights[f"{name}.bias"] = (layer.bias, False)


def add_layer_norm(weights, name, layer):
    weights[f"{name}.weight"] = (layer.gamma, False)
    weights[f"{name}.bias"] = (layer.beta, False)


def add_per_token_heads(weights, model):
    """The heads every family names alike in HF: ``classifier`` of ``...ForTokenClassification``
    and ``qa_outputs`` of ``...ForQuestionAnswering``."""
    if hasattr(model, "token_head"):
        add_dense(weights, "classifier", model.token_head.out)
    if hasattr(model, "qa_head"):
        add_dense(weights, "qa_outputs", model.qa_head.dense)


def _listed(names):
    names = sorted(names)
    more = f" ... and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
    return ", ".join(names[:_MAX_LISTED]) + more


def check_and_assign(weights, tensors, source, optional=()):
    """Assigns ``tensors`` to ``weights`` after checking names and shapes.

    ``optional`` names may be absent (they keep their fresh initialization), as a
    new task head does when fine-tuning starts from a backbone checkpoint.
    """
    missing = [n for n in weights if n not in tensors and n not in optional]
    unexpected = [n for n in tensors if n not in weights]
    problems = []
    if missing:
        problems.append(f"missing weights: {_listed(missing)}")
    if unexpected:
        problems.append(f"unexpected weights: {_listed(unexpected)}")
    wrong = []
    for name, (variable, transpose) in weights.items():
        if name in tensors:
            shape = tuple(np.shape(tensors[name]))
            if transpose:
                shape = shape[::-1]
            if shape != tuple(variable.shape):
                wrong.append(f"{name} {shape} (model expects {tuple(variable.shape)})")
    if wrong:
        problems.append(f"wrong shapes: {_listed(wrong)}")
    if problems:
        raise CheckpointError(f"{source} does not fit the model: " + "; ".join(problems))
    for name, (variable, transpose) in weights.items():
        if name in tensors:
            value = np.asarray(tensors[name])
            variable.assign(value.T if transpose else value)


def read_weights(weights):
    """The inverse of :func:`check_and_assign`: ``{name: numpy array}`` in checkpoint layout."""
    out = {}
    for name, (variable, transpose) in weights.items():
        value = variable.numpy()
        out[name] = np.ascontiguousarray(value.T if transpose else value)
    return out
