"""BART weights in the HuggingFace layout.

HF names (``BartModel``): ``shared``, then per stack ``{encoder,decoder}.embed_positions``
(``max_position_embeddings + 2`` rows), ``layernorm_embedding`` and
``layers.{i}.{self_attn.{q,k,v,out}_proj, self_attn_layer_norm, fc1, fc2,
final_layer_norm}``; decoder layers add ``encoder_attn.*`` and
``encoder_attn_layer_norm``. ``BartForConditionalGeneration`` prefixes those with
``model.`` and adds ``final_logits_bias`` [1, V] (a buffer; our non-trainable
bias [V]). ``lm_head.weight`` and ``{encoder,decoder}.embed_tokens.weight`` are
``shared`` itself (tied): accepted and ignored on load, and not written on save,
as transformers itself saves them.
"""

import re

from tfmodels.convert.weight_map import Reshaped, add_dense, add_layer_norm

PREFIX = "model"


class _Ignored:
    """Names that hold no free parameter: the tied copies of ``shared``."""

    _PATTERN = re.compile(r"lm_head\.weight|(encoder|decoder)\.embed_tokens\.weight")

    def __contains__(self, name):
        return bool(self._PATTERN.fullmatch(name))


IGNORED = _Ignored()


def _add_attention(weights, name, attention):
    for hf, ours in (
        ("q_proj", attention.query),
        ("k_proj", attention.key),
        ("v_proj", attention.value),
        ("out_proj", attention.output_dense),
    ):
        add_dense(weights, f"{name}.{hf}", ours)


def _add_stack(weights, name, stack):
    inputs = stack.inputs_layer
    weights[f"{name}.embed_positions.weight"] = (inputs.position_embeddings, False)
    add_layer_norm(weights, f"{name}.layernorm_embedding", inputs.layer_norm)
    for i, block in enumerate(stack.blocks):
        p = f"{name}.layers.{i}."
        _add_attention(weights, p + "self_attn", block.attention)
        add_layer_norm(weights, p + "self_attn_layer_norm", block.attention_layer_norm)
        if hasattr(block, "cross_attention"):
            _add_attention(weights, p + "encoder_attn", block.cross_attention)
            add_layer_norm(weights, p + "encoder_attn_layer_norm", block.cross_attention_layer_norm)
        add_dense(weights, p + "fc1", block.intermediate)
        add_dense(weights, p + "fc2", block.output_dense)
        add_layer_norm(weights, p + "final_layer_norm", block.output_layer_norm)


def backbone_weights(model):
    """``{HF name without prefix: (variable, transpose)}`` for a :class:`BartModel`."""
    weights = {"shared.weight": (model.tokens.embeddings, False)}
    _add_stack(weights, "encoder", model.encoder_stack)
    _add_stack(weights, "decoder", model.decoder_stack)
    return weights


def head_weights(model):
    """``final_logits_bias`` of :class:`BartForConditionalGeneration` (the LM head is tied)."""
    if getattr(model, "lm_head", None) is None:
        return {}
    bias = model.lm_head.bias
    return {"final_logits_bias": (Reshaped(bias, [1, int(bias.shape[0])]), False)}
