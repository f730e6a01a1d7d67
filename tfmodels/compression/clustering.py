"""Weight clustering (weight sharing) of the Transformer's Dense kernels with TF-MOT.

Each kernel keeps only K distinct values: its weights are grouped into K clusters
(k-means++ seeding by default) and every weight is replaced by its centroid, the
"trained quantization and weight sharing" of Han et al. ("Deep Compression", 2016,
section 3). During fine-tuning the centroids are trained (each centroid's gradient
is the sum of its weights' gradients) and the weights are re-assigned to their
nearest centroid at every step. A stored kernel is then K floats plus a
log2(K)-bit index per weight; in a float file the repeated values compress well
under gzip (which is what :mod:`tfmodels.compression.sizes` reports).

Which weights: the same Dense kernels as pruning (attention, feed-forward, pooler,
heads; see :mod:`tfmodels.compression.pruning`), each with its own centroids.
Kernels with at most K weights are skipped (they already have <= K values). The
embedding table is not clustered: TF-MOT finds the nearest centroid by
materializing |weights| x K distances, 3 GB per step for MiniLM's 30522x384 table
at K=64.

TF-MOT swaps each clustered kernel of the wrapped sublayer for a tensor while the
model is wrapped, so between :func:`cluster_model` and :func:`strip_clustering`
use only the wrapped model. Training needs no per-step call. The wrapped layers
see float32 kernels, so the model must be float32 (no mixed precision).
"""

import numbers

import tensorflow_model_optimization as tfmot
from tensorflow_model_optimization.python.core.clustering.keras.cluster_wrapper import (
    ClusterWeights,
)

from tfmodels.compression.pruning import source_model, wrap_model
from tfmodels.errors import ConfigError

_INIT = tfmot.clustering.keras.CentroidInitialization
INITS = {
    "kmeans++": _INIT.KMEANS_PLUS_PLUS,
    "linear": _INIT.LINEAR,
    "density": _INIT.DENSITY_BASED,
    "random": _INIT.RANDOM,
}


class ClusterKernels(ClusterWeights):
    """TF-MOT's ClusterWeights for a :class:`~tfmodels.compression.pruning.KernelView`.

    Weight names are attribute paths into sublayers (``"attention.query.kernel"``),
    as TF-MOT's own ``ClusterWeightsMHA`` does for Keras attention.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(layer, **kwargs)
        # Where each kernel sits among its sublayer's weights, to restore the order on strip.
        self.positions = {}
        for path in layer.paths:
            owner, attribute = layer.weight_owner(path)
            if owner.compute_dtype != owner.variable_dtype:
                raise ConfigError(
                    f"cluster_model: {owner.name} computes in "
                    f"{owner.compute_dtype}; clustering needs a float32 model "
                    "(no mixed precision)"
                )
            variable = getattr(owner, attribute)
            self.positions[path] = next(
                i for i, w in enumerate(owner._trainable_weights) if w is variable
            )

    def get_weight_from_layer(self, weight_name):
        return getattr(*self.layer.weight_owner(weight_name))

    def set_weight_to_layer(self, weight_name, new_weight):
        owner, attribute = self.layer.weight_owner(weight_name)
        setattr(owner, attribute, new_weight)

    def restore(self):
        """Writes the clustered values into the original variables and puts them back.

        Afterwards the wrapper no longer touches the layer, so calling the wrapped
        model again computes what the stripped model computes.
        """
        self.update_clustered_weights_associations()
        for weight_name, variable in self.original_clusterable_weights.items():
            clustered = self.get_weight_from_layer(weight_name)
            variable.assign(clustered)
            owner, attribute = self.layer.weight_owner(weight_name)
            setattr(owner, attribute, variable)
            position = self.positions[weight_name]
            weights = owner._trainable_weights  # setattr appended it: move it back in place
            weights.insert(
                position, weights.pop(next(i for i, w in enumerate(weights) if w is variable))
            )
        self.original_clusterable_weights = {}


def _check_clusters(number_of_clusters, preserve_sparsity):
    least = 3 if preserve_sparsity else 2  # one cluster is kept at zero
    if (
        isinstance(number_of_clusters, bool)
        or not isinstance(number_of_clusters, numbers.Integral)
        or number_of_clusters < least
    ):
        raise ConfigError(
            f"cluster_model: number_of_clusters={number_of_clusters!r}; must be "
            f"an integer >= {least}"
        )


def cluster_model(model, number_of_clusters, init="kmeans++", preserve_sparsity=False):
    """``model`` with TF-MOT clustering wrappers (``number_of_clusters`` per kernel).

    ``init``: how centroids start, one of ``kmeans++`` (k-means++ seeding),
    ``linear`` (evenly spaced between min and max), ``density`` (evenly spaced in
    the CDF) or ``random``. ``preserve_sparsity`` keeps zero weights (after pruning)
    at zero, one centroid being fixed at 0.

    Returns a flat functional model sharing its layers with ``model``; train it,
    then call :func:`strip_clustering` to get ``model`` back with clustered kernels.
    """
    _check_clusters(number_of_clusters, preserve_sparsity)
    if init not in INITS:
        raise ConfigError(f"cluster_model: init={init!r}; choose one of {', '.join(INITS)}")

    def keep(variable):
        return variable.shape.num_elements() > number_of_clusters

    def wrap(view):
        return ClusterKernels(
            view,
            number_of_clusters=int(number_of_clusters),
            cluster_centroids_init=INITS[init],
            preserve_sparsity=preserve_sparsity,
        )

    return wrap_model(model, wrap, "clustering", keep=keep)


def clustering_wrappers(clustered):
    return [layer for layer in clustered.layers if isinstance(layer, ClusterKernels)]


def strip_clustering(clustered):
    """Returns the original model with every clustered kernel set to its centroids."""
    model = source_model(clustered, "clustering")
    for wrapper in clustering_wrappers(clustered):
        wrapper.restore()
    return model
