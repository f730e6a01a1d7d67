"""GPT-2 weights in the HuggingFace layout.

HF names (``GPT2Model``): ``wte``, ``wpe``, ``h.{i}.{ln_1, attn.c_attn, attn.c_proj, ln_2,
mlp.c_fc, mlp.c_proj}``, ``ln_f``; ``GPT2LMHeadModel`` adds the ``transformer.`` prefix
and ``lm_head.weight``, which is ``wte`` itself (tied) and stored or not depending on
the writer, so it is ignored on load and not written on save. GPT-2's ``Conv1D``
keeps weights [in, out] like Keras kernels: nothing is transposed. ``c_attn`` packs
the query, key and value projections along its output axis. Old checkpoints also
carry the causal-mask buffers ``h.{i}.attn.bias``/``attn.masked_bias``: ignored.
"""

import re

import numpy as np

from tfmodels.convert.weight_map import add_dense, add_layer_norm

PREFIX = "transformer"


class _Ignored:
    """Names that hold no free parameter: the tied head and the mask buffers."""

    _PATTERN = re.compile(r"(lm_head\.weight|h\.\d+\.attn\.(bias|masked_bias))$")

    def __contains__(self, name):
        return bool(self._PATTERN.fullmatch(name))


IGNORED = _Ignored()


class _Packed:
    """Several Keras variables seen as one tensor concatenated on the last axis, the way
    ``c_attn`` stores q, k and v; enough of a variable for ``check_and_assign``/``read_weights``."""

    def __init__(self, *variables):
        self.variables = variables
        sizes = [int(v.shape[-1]) for v in variables]
        self.shape = tuple(variables[0].shape[:-1]) + (sum(sizes),)
        self._splits = np.cumsum(sizes)[:-1]

    def assign(self, value):
        for variable, part in zip(self.variables, np.split(value, self._splits, axis=-1)):
            variable.assign(part)

    def numpy(self):
        return np.concatenate([v.numpy() for v in self.variables], axis=-1)


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for a :class:`GPT2Model`."""
    weights = {
        "wte.weight": (encoder.embedding_layer.word_embeddings, False),
        "wpe.weight": (encoder.embedding_layer.position_embeddings, False),
    }
    for i, block in enumerate(encoder.transformer_layers):
        p = f"h.{i}."
        attention = block.attention
        add_layer_norm(weights, p + "ln_1", block.attention_layer_norm)
        weights[p + "attn.c_attn.weight"] = (
            _Packed(attention.query.kernel, attention.key.kernel, attention.value.kernel),
            False,
        )
        weights[p + "attn.c_attn.bias"] = (
            _Packed(attention.query.bias, attention.key.bias, attention.value.bias),
            False,
        )
        add_dense(weights, p + "attn.c_proj", attention.output_dense, transpose=False)
        add_layer_norm(weights, p + "ln_2", block.output_layer_norm)
        add_dense(weights, p + "mlp.c_fc", block.intermediate, transpose=False)
        add_dense(weights, p + "mlp.c_proj", block.output_dense, transpose=False)
    add_layer_norm(weights, "ln_f", encoder.final_layer_norm)
    return weights


def head_weights(model):
    """None of GPT-2's heads has weights of its own: ``lm_head`` is ``wte``."""
    return {}
