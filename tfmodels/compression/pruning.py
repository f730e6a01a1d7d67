"""Magnitude pruning of the Transformer's Dense kernels with TF-MOT (Zhu & Gupta 2017).

Each kernel gets a binary mask: during fine-tuning the weights of smallest magnitude
are zeroed, the sparsity rising from ``initial_sparsity`` to ``target_sparsity``
along the polynomial decay schedule of Zhu & Gupta ("To prune, or not to prune",
2017, section 3, eq. 1). ``pattern="2:4"`` asks instead for TF-MOT's m-by-n
structured sparsity (two zeros in every four consecutive weights along the input
axis, the layout sparse tensor cores and XNNPACK use, Mishra et al. 2021).

Which weights: every Dense kernel of the attention (query, key, value, output), the
feed-forward sublayer, the pooler and the heads. The word-embedding table is left
dense unless ``include_embeddings=True``: it is a gather, not a matmul, so zeros
there save no compute, and in masked-LM models it is also the output projection.
Biases and LayerNorm parameters are never pruned.

How it plugs into TF-MOT: our layers keep their Dense kernels in sublayers, which
TF-MOT's registry does not know. :class:`KernelView` shows one of our layers to
TF-MOT as a ``PrunableLayer``/``ClusterableLayer`` listing those kernels, without
changing the layer; the wrappers go around the views in a flat copy of the model's
graph (:func:`tfmodels.compression.functional.flat_model`) that shares every layer and
variable with the original, so training the wrapped model prunes the original.

Custom training loops (our ``Trainer``): nothing has to be called per step. In
TF-MOT 0.8 every ``PruneLowMagnitude`` wrapper adds 1 to its own ``pruning_step`` in
each training-mode call; the ``UpdatePruningStep`` callback of ``model.fit`` only
sets that counter from -1 to 0 before the first step (:func:`prune_model` does it)
and re-applies the masks at the end of an epoch (:func:`strip_pruning` does it:
the last optimizer step leaves the pruned weights slightly non-zero). Schedule
steps therefore count training forward passes: with gradient accumulation over k
micro-batches, one optimizer step is k pruning steps. The counter is a variable of
the wrapped model, so it is checkpointed and resumes with it.
"""

import numbers
import weakref

import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_wrapper import (
    PruneLowMagnitude,
)

from tfmodels.compression.functional import flat_model
from tfmodels.errors import ConfigError

# Wrapped model -> (original model, what wrapped it): strip functions return the original.
_SOURCES = weakref.WeakKeyDictionary()


def _dense_paths(layer, seen):
    """Attribute paths of the Dense layers inside ``layer``, in definition order.

    ``seen`` holds the ids of layers already claimed (shared layers, such as the
    embedding table a masked-LM head reuses, are compressed once).
    """
    paths = []
    for name, value in vars(layer).items():
        if name.startswith("_") or not isinstance(value, keras.layers.Layer) or id(value) in seen:
            continue
        seen.add(id(value))
        if isinstance(value, keras.layers.Dense):
            paths.append(name)
        else:
            paths += [f"{name}.{path}" for path in _dense_paths(value, seen)]
    return paths


def _weight_paths(flat, include_embeddings):
    """``{top-level layer: [attribute paths of the weights to compress]}`` of a flat model."""
    seen = {id(layer) for layer in flat.layers}
    targets = {}
    for layer in flat.layers:
        if isinstance(layer, keras.layers.Dense):
            paths = ["kernel"]
        else:
            paths = [f"{path}.kernel" for path in _dense_paths(layer, seen)]
        if include_embeddings and isinstance(getattr(layer, "word_embeddings", None), tf.Variable):
            paths.insert(0, "word_embeddings")
        if paths:
            targets[layer] = paths
    return targets


def _resolve(obj, path):
    """``(owner, attribute)`` of a dotted attribute path."""
    *parents, attribute = path.split(".")
    for name in parents:
        obj = getattr(obj, name)
    return obj, attribute


class KernelView(
    keras.layers.Layer, tfmot.sparsity.keras.PrunableLayer, tfmot.clustering.keras.ClusterableLayer
):
    """One of our layers as TF-MOT sees it: the layer, called unchanged, and its kernels.

    ``paths`` are attribute paths from ``layer`` (``"attention.query.kernel"``);
    ``calls`` is how often one forward pass calls the layer (ALBERT calls one shared
    block in every layer), which pruning schedules must account for.
    """

    def __init__(self, layer, paths, calls=1, **kwargs):
        kwargs.setdefault("name", layer.name)
        kwargs.setdefault("dtype", layer.dtype_policy)
        super().__init__(**kwargs)
        self.layer = layer
        self.paths = tuple(paths)
        self.calls = calls

    def call(self, inputs, training=None, **kwargs):
        return self.layer(inputs, training=training, **kwargs)

    def weight_owner(self, path):
        """``(sublayer, attribute)`` holding the weight at ``path``."""
        return _resolve(self.layer, path)

    def get_prunable_weights(self):
        return [getattr(*self.weight_owner(path)) for path in self.paths]

    def get_clusterable_weights(self):
        return [(path, getattr(*self.weight_owner(path))) for path in self.paths]

    def get_config(self):
        config = super().get_config()
        config.update(
            layer=keras.layers.serialize(self.layer), paths=list(self.paths), calls=self.calls
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = keras.layers.deserialize(config.pop("layer"), custom_objects=custom_objects)
        return cls(layer, **config)


def wrap_model(model, wrap, kind, include_embeddings=False, keep=None):
    """``model``'s graph, flat, with ``wrap(KernelView)`` in place of each layer with kernels.

    ``keep(variable)`` may drop weights from compression. Layers are shared with
    ``model``; :func:`source_model` gives ``model`` back from the result.
    """
    try:
        flat = flat_model(model)
    except TypeError as e:
        raise ConfigError(f"{kind}: {e}") from None
    targets = {}
    for layer, paths in _weight_paths(flat, include_embeddings).items():
        paths = [p for p in paths if keep is None or keep(getattr(*_resolve(layer, p)))]
        if paths:
            targets[layer] = paths
    if not targets:
        raise ConfigError(f"{kind}: {model.name} has no Dense kernel to compress")
    calls = {}
    for nodes in flat._nodes_by_depth.values():
        for node in nodes:
            calls[node.layer] = calls.get(node.layer, 0) + 1
    wrapped = keras.models.clone_model(
        flat,
        clone_function=lambda layer: (
            wrap(KernelView(layer, targets[layer], calls[layer])) if layer in targets else layer
        ),
    )
    _SOURCES[wrapped] = (model, kind)
    return wrapped


def source_model(wrapped, kind):
    """The model that :func:`wrap_model` wrapped (``kind``: "pruning" or "clustering")."""
    source = _SOURCES.get(wrapped) if isinstance(wrapped, keras.Model) else None
    if source is None or source[1] != kind:
        name = getattr(wrapped, "name", type(wrapped).__name__)
        raise ConfigError(
            f"strip_{kind}: {name} is not a model returned by "
            f"{'prune_model' if kind == 'pruning' else 'cluster_model'}"
        )
    return source[0]


def target_weights(model, include_embeddings=False):
    """``[(variable name, variable)]`` of the weights pruning and clustering compress."""
    weights = []
    for layer, paths in _weight_paths(flat_model(model), include_embeddings).items():
        for path in paths:
            variable = getattr(*_resolve(layer, path))
            weights.append((variable.name, variable))
    return weights


def weight_sparsity(model, include_embeddings=False):
    """``{variable name: fraction of exact zeros}`` of the compressed weights."""
    return {
        name: float((variable.numpy() == 0).mean())
        for name, variable in target_weights(model, include_embeddings)
    }


def _check_sparsity(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value < 1:
        raise ConfigError(f"prune_model: {name}={value!r}; a sparsity is a fraction in [0, 1)")


def _check_step(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"prune_model: {name}={value!r}; must be an integer >= {minimum}")


def parse_pattern(pattern):
    """``"2:4"`` -> ``(2, 4)``: M zeros in every N consecutive weights, 0 < M < N."""
    try:
        zeros, group = (int(part) for part in str(pattern).split(":"))
        if not 0 < zeros < group:
            raise ValueError
    except ValueError:
        raise ConfigError(
            f"prune_model: pattern={pattern!r}; expected 'M:N' with 0 < M < N, e.g. '2:4'"
        ) from None
    return zeros, group


def _check_schedule(target_sparsity, begin_step, end_step, frequency, initial_sparsity):
    if target_sparsity is None:
        raise ConfigError("prune_model: target_sparsity is required (or give a pattern)")
    _check_sparsity(target_sparsity, "target_sparsity")
    _check_sparsity(initial_sparsity, "initial_sparsity")
    if initial_sparsity > target_sparsity:
        raise ConfigError(
            f"prune_model: initial_sparsity {initial_sparsity} exceeds "
            f"target_sparsity {target_sparsity}"
        )
    _check_step(begin_step, "begin_step", 0)
    if end_step is None:
        raise ConfigError("prune_model: end_step is required (the step target_sparsity is reached)")
    _check_step(end_step, "end_step", begin_step + 1)
    _check_step(frequency, "frequency", 1)
    if (end_step - begin_step) % frequency:
        raise ConfigError(
            f"prune_model: end_step - begin_step ({end_step} - {begin_step}) is not a multiple "
            f"of frequency {frequency}, so the last mask update would fall short of "
            f"target_sparsity"
        )


def prune_model(
    model,
    target_sparsity=None,
    begin_step=0,
    end_step=None,
    frequency=100,
    initial_sparsity=0.0,
    power=3,
    pattern=None,
    include_embeddings=False,
):
    """``model`` with TF-MOT pruning wrappers, ready to fine-tune (fit or ``Trainer``).

    Unstructured: the sparsity of every kernel follows the polynomial schedule from
    ``initial_sparsity`` at ``begin_step`` to ``target_sparsity`` at ``end_step``,
    masks being recomputed every ``frequency`` steps (training forward passes).
    ``pattern="M:N"`` (``"2:4"``): TF-MOT computes one M-of-N mask from the weights at
    the first training step and keeps it; the schedule arguments are then unused and
    ``target_sparsity``, if given, must be M/N. A layer the graph calls n times per
    forward pass (ALBERT's shared blocks) gets its schedule scaled by n, so steps
    still count forward passes.

    Returns a flat functional model sharing its layers with ``model``; train it,
    then call :func:`strip_pruning` to get ``model`` back with the zeros in place.
    """
    if pattern is not None:
        zeros, group = parse_pattern(pattern)
        if target_sparsity is not None and abs(target_sparsity - zeros / group) > 1e-9:
            raise ConfigError(
                f"prune_model: pattern {pattern} fixes the sparsity at "
                f"{zeros / group:g}, not target_sparsity={target_sparsity!r}"
            )

        def wrap(view):
            return PruneLowMagnitude(
                view,
                pruning_schedule=tfmot.sparsity.keras.ConstantSparsity(zeros / group, 0),
                sparsity_m_by_n=(zeros, group),
            )
    else:
        _check_schedule(target_sparsity, begin_step, end_step, frequency, initial_sparsity)

        def wrap(view):  # a layer called n times per forward pass counts n steps per pass
            return PruneLowMagnitude(
                view,
                pruning_schedule=tfmot.sparsity.keras.PolynomialDecay(
                    initial_sparsity=float(initial_sparsity),
                    final_sparsity=float(target_sparsity),
                    begin_step=int(begin_step) * view.calls,
                    end_step=int(end_step) * view.calls,
                    power=power,
                    frequency=int(frequency) * view.calls,
                ),
            )

    pruned = wrap_model(model, wrap, "pruning", include_embeddings=include_embeddings)
    for wrapper in pruning_wrappers(pruned):  # UpdatePruningStep.on_train_begin
        if int(wrapper.pruning_step.numpy()) == -1:
            wrapper.pruning_step.assign(0)
    return pruned


def pruning_wrappers(pruned):
    return [layer for layer in pruned.layers if isinstance(layer, PruneLowMagnitude)]


def pruning_step(pruned):
    """The pruning step the wrappers have reached (training forward passes so far)."""
    wrapper = pruning_wrappers(pruned)[0]
    return int(wrapper.pruning_step.numpy()) // wrapper.layer.calls


def strip_pruning(pruned):
    """Applies the final masks and returns the original model (now sparse).

    The zeros are plain weights of the original model, so ``save_pretrained``,
    SavedModel and TFLite export keep them. (TF-MOT's own ``strip_pruning`` would
    return a flat copy of the graph; ours returns the task model, which the export
    and conversion code understands.)
    """
    model = source_model(pruned, "pruning")
    for wrapper in pruning_wrappers(pruned):
        wrapper.pruning_obj.weight_mask_op()
    return model
