"""XLNet weights in the HuggingFace layout.

HF names (``XLNetModel``): ``word_embedding.weight``, ``mask_emb`` [1, 1, H],
``layer.{i}.rel_attn.{q, k, v, o, r}`` [H, heads, head_size] (no biases),
``layer.{i}.rel_attn.{r_w_bias, r_r_bias, r_s_bias}`` [heads, head_size],
``layer.{i}.rel_attn.seg_embed`` [2, heads, head_size], ``layer.{i}.rel_attn.layer_norm``,
``layer.{i}.ff.{layer_1, layer_2, layer_norm}``; ``XLNetLMHeadModel`` adds the
``transformer.`` prefix and ``lm_loss.bias``; ``lm_loss.weight`` is ``word_embedding``
itself (tied), ignored on load and not written on save. Our q/k/v/r/o are Dense
kernels over all heads at once: [H, heads * head_size] (o: [heads * head_size, H]).
"""

from tfmodels.convert.weight_map import Reshaped, add_dense, add_layer_norm

PREFIX = "transformer"
IGNORED = frozenset({"lm_loss.weight"})


def backbone_weights(encoder):
    """``{HF name without prefix: (variable, transpose)}`` for an :class:`XLNetModel`."""
    weights = {
        "word_embedding.weight": (encoder.embedding_layer.word_embeddings, False),
        "mask_emb": (encoder.mask_embedding.embedding, False),
    }
    for i, block in enumerate(encoder.transformer_layers):
        p = f"layer.{i}."
        attention = block.attention
        heads = (int(attention.seg_embed.shape[1]), int(attention.seg_embed.shape[2]))
        for name, dense in (
            ("q", attention.query),
            ("k", attention.key),
            ("v", attention.value),
            ("r", attention.position),
        ):
            hf_shape = (dense.kernel.shape[0],) + heads
            weights[p + "rel_attn." + name] = (Reshaped(dense.kernel, hf_shape), False)
        output = attention.output_dense.kernel
        weights[p + "rel_attn.o"] = (Reshaped(output, (output.shape[1],) + heads, True), False)
        for name in ("r_w_bias", "r_r_bias", "r_s_bias", "seg_embed"):
            weights[p + "rel_attn." + name] = (getattr(attention, name), False)
        add_layer_norm(weights, p + "rel_attn.layer_norm", attention.layer_norm)
        ff = block.feed_forward
        add_dense(weights, p + "ff.layer_1", ff.intermediate)
        add_dense(weights, p + "ff.layer_2", ff.output_dense)
        add_layer_norm(weights, p + "ff.layer_norm", ff.layer_norm)
    return weights


def head_weights(model):
    """The LM head's bias; its weight is the token table."""
    if hasattr(model, "lm_head"):
        return {"lm_loss.bias": (model.lm_head.bias, False)}
    return {}
