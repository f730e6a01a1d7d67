"""Attention-head pruning (Michel et al. 2019, "Are Sixteen Heads Really Better than One?").

Importance ("Head Importance Score for Pruning", section 4.1): a gate ``xi_h``
(1 = keep; section 2.3) multiplies each head's context, and
``I_h = E_x |dL(x)/dxi_h|``. The gates are a [B, layers, heads] tensor, one per
example, installed on the attention layers only while importance is measured
(:func:`gates_installed`; the model's own graph has none), so one backward pass of
the batch-mean loss gives every example's own gradient (times 1/B): the expectation
of |gradient| exactly, not |mean gradient|.
Each layer's scores are divided by their L2 norm, as the authors' code does.

Iterative pruning (section 4.1): remove the least important heads (a fixed share of
the original heads per step), recompute importance on what is left, repeat.
Removed heads are taken out of the weights, not masked: the new model's query/key/
value kernels keep only the kept heads' columns and the output kernel their rows
(head size unchanged), and ``config.pruned_heads`` ({layer: [original head indexes]},
HuggingFace's ``BertConfig.pruned_heads``) records them, so ``save_pretrained`` /
``from_pretrained`` and ``build`` give the same smaller model. A layer always keeps at
least one head.
"""

import contextlib
import dataclasses
import functools

import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError, DataError


def _encoder(model):
    return getattr(model, "encoder", model)


def _check_supported(model):
    config = getattr(model, "config", None)
    if (
        config is None
        or not hasattr(config, "kept_heads")
        or not hasattr(_encoder(model), "transformer_layers")
    ):
        raise ConfigError(
            f"head pruning needs a BERT-family tfmodels model (a config with "
            f"pruned_heads); got {type(model).__name__}"
        )
    return config


def _rebuild(model, config, **overrides):
    """A fresh model of ``model``'s class for ``config``; labels and source carried over."""
    values = {**model.get_config(), "config": config.to_dict(), **overrides}
    new = type(model).from_config(values)
    for attribute in ("label_names", "source_path"):
        if hasattr(model, attribute):
            setattr(new, attribute, getattr(model, attribute))
    return new


@contextlib.contextmanager
def gates_installed(model, gates):
    """Calls of ``model`` meanwhile multiply head h of layer l by ``gates[:, l, h]``
    (``gates`` [B, layers, heads] in the original head numbering; 0 removes a head).
    The gates hook into the attention layers from outside; nothing is rebuilt."""
    config = _check_supported(model)
    attentions = [block.attention for block in _encoder(model).transformer_layers]
    try:
        for layer, attention in enumerate(attentions):
            attention.head_gate = tf.gather(gates[:, layer], config.kept_heads(layer), axis=-1)
        yield model
    finally:
        for attention in attentions:
            attention.head_gate = None


def num_heads_left(config):
    return sum(len(config.kept_heads(layer)) for layer in range(config.num_layers))


def head_importance(model, dataset, loss_fn, normalize=True, max_batches=None):
    """``I_h`` as a [layers, heads] array in the original head numbering (removed heads: 0).

    ``dataset`` yields ``(features, labels)`` batches, and ``loss_fn(model, batch,
    training)`` returns ``(loss, metrics)`` with ``loss`` the batch mean of per-example
    losses (as ``tfmodels.tasks.classification.loss_fn``). Dropout is off. With
    ``normalize`` each layer's row is divided by its L2 norm.
    """
    config = _check_supported(model)
    spec = dataset.element_spec
    if not isinstance(spec, tuple) or len(spec) < 2 or not isinstance(spec[0], dict):
        raise DataError("head_importance needs a dataset of (features, labels) batches")
    shape = (config.num_layers, config.num_heads)
    # A partial, not a closure: each call's function is its own (no retracing warnings);
    # the signature keeps a smaller last batch from tracing the gradient again.
    step = tf.function(
        functools.partial(_gate_gradients, model, loss_fn, shape),
        input_signature=[spec[0], tuple(spec[1:])],
    )
    total = np.zeros(shape, np.float64)
    count = 0
    for batch in dataset.take(max_batches) if max_batches else dataset:
        summed, size = step(batch[0], tuple(batch[1:]))
        total += summed.numpy()
        count += int(size)
    if count == 0:
        raise DataError("head_importance: the dataset has no examples")
    importance = total / count
    if normalize:
        importance /= np.linalg.norm(importance, axis=-1, keepdims=True) + 1e-20
    return importance.astype(np.float32)


def _gate_gradients(model, loss_fn, shape, features, rest):
    """Sum over the batch of each example's |dL(x)/dxi| [layers, heads], and the batch size."""
    batch = tf.shape(features["input_ids"])[0]
    gates = tf.ones([batch, *shape], tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(gates)  # before the gates are gathered onto the layers
        with gates_installed(model, gates):
            loss, _ = loss_fn(model, (features, *rest), False)
    grad = tape.gradient(loss, gates)
    # Each example's own gradient is B times its share of the batch-mean gradient.
    return tf.reduce_sum(tf.abs(grad), 0) * tf.cast(batch, tf.float32), batch


def prune_heads(model, heads_to_remove):
    """A new, smaller model without ``heads_to_remove`` ({layer: [original head indexes]}).

    Heads already removed from ``model`` may not be named again; a layer must keep at
    least one head. ``model`` is left unchanged.
    """
    config = _check_supported(model)
    requested = dataclasses.replace(config, pruned_heads=dict(heads_to_remove)).pruned_heads
    for layer, heads in requested.items():
        again = sorted(set(heads) & set(config.pruned_heads.get(layer, ())))
        if again:
            raise ConfigError(f"prune_heads: head {again[0]} of layer {layer} is already removed")
    merged = {
        layer: sorted(set(config.pruned_heads.get(layer, ())) | set(requested.get(layer, ())))
        for layer in range(config.num_layers)
    }
    new_config = dataclasses.replace(config, pruned_heads={k: v for k, v in merged.items() if v})
    new = _rebuild(model, new_config)
    _copy_pruned_weights(model, new)
    return new


def _copy_pruned_weights(old, new):
    """Copies every weight, keeping only the kept heads' slices of the attention kernels."""
    sliced = {}
    blocks = zip(_encoder(old).transformer_layers, _encoder(new).transformer_layers)
    for layer, (old_block, new_block) in enumerate(blocks):
        before, after = old_block.attention, new_block.attention
        head_size = before.head_size
        index = {h: i for i, h in enumerate(old.config.kept_heads(layer))}
        positions = np.array([index[h] for h in new.config.kept_heads(layer)])
        columns = (positions[:, None] * head_size + np.arange(head_size)).ravel()
        for name in ("query", "key", "value"):
            src, dst = getattr(before, name), getattr(after, name)
            sliced[dst.kernel.ref()] = tf.gather(src.kernel, columns, axis=1)
            if dst.bias is not None:
                sliced[dst.bias.ref()] = tf.gather(src.bias, columns)
        sliced[after.output_dense.kernel.ref()] = tf.gather(
            before.output_dense.kernel, columns, axis=0
        )
    old_weights, new_weights = old.weights, new.weights
    assert len(old_weights) == len(new_weights), "pruned model has a different structure"
    for src, dst in zip(old_weights, new_weights):
        value = sliced.get(dst.ref(), src)
        if tuple(value.shape) != tuple(dst.shape):  # a bug here, not a user error
            raise AssertionError(f"weight {dst.name}: {value.shape} vs {dst.shape}")
        dst.assign(value)


def least_important_heads(importance, config, count):
    """The ``count`` heads of lowest importance among those left, never a layer's last one."""
    left = [len(config.kept_heads(layer)) for layer in range(config.num_layers)]
    candidates = sorted(
        (importance[layer, head], layer, head)
        for layer in range(config.num_layers)
        for head in config.kept_heads(layer)
    )
    chosen = {}
    for _, layer, head in candidates:
        if count == 0:
            break
        if left[layer] > 1:
            chosen.setdefault(layer, []).append(head)
            left[layer] -= 1
            count -= 1
    return {layer: sorted(heads) for layer, heads in sorted(chosen.items())}


def iterative_head_pruning(model, dataset, loss_fn, fraction, step=0.1, max_batches=None):
    """Prunes until ``fraction`` of the original heads are gone; returns ``(model, log)``.

    Step ``k`` removes heads until ``round(k * step * total)`` are gone, choosing the
    least important by :func:`head_importance` on the model pruned so far. ``log`` has
    one dict per step: ``removed`` (this step), ``pruned_heads`` (all so far),
    ``heads_left`` and the ``importance`` [layers, heads] it used.
    """
    config = _check_supported(model)
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"head pruning fraction must be in [0, 1), got {fraction}")
    if not 0.0 < step <= 1.0:
        raise ConfigError(f"head pruning step must be in (0, 1], got {step}")
    total = config.num_layers * config.num_heads
    target = int(round(fraction * total))
    most = total - config.num_layers
    if target > most:
        raise ConfigError(
            f"cannot remove {target} of {total} heads ({fraction:.0%}): every "
            f"layer keeps at least one head, so at most {most} can go"
        )
    log = []
    removed = total - num_heads_left(config)
    k = 1
    while removed < target:
        while int(round(k * step * total)) <= removed:
            k += 1
        goal = min(target, int(round(k * step * total)))
        importance = head_importance(model, dataset, loss_fn, max_batches=max_batches)
        chosen = least_important_heads(importance, model.config, goal - removed)
        model = prune_heads(model, chosen)
        removed = total - num_heads_left(model.config)
        log.append(
            {
                "step": len(log) + 1,
                "removed": chosen,
                "pruned_heads": {
                    layer: list(heads) for layer, heads in model.config.pruned_heads.items()
                },
                "heads_left": total - removed,
                "importance": importance,
            }
        )
    return model, log
