"""Weight clustering: <= K values per kernel after fine-tuning with our Trainer, strip, reload."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

import tfmodels
from tests.compression.test_pruning import CONFIG, dataset, features
from tests.conftest import max_abs_diff
from tfmodels.compression import clustering
from tfmodels.compression.pruning import target_weights
from tfmodels.compression.sizes import gzip_size
from tfmodels.errors import ConfigError
from tfmodels.models import bert
from tfmodels.tasks.classification import loss_fn
from tfmodels.training.trainer import Trainer


def unique_counts(model):
    return {name: len(np.unique(v.numpy())) for name, v in target_weights(model)}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A classifier clustered to 8 values per kernel, fine-tuned by our Trainer, stripped."""
    tmp = tmp_path_factory.mktemp("clustering")
    tf.keras.utils.set_random_seed(4)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=2)
    order = [w.name for w in model.weights]
    tfmodels.save_pretrained(model, str(tmp / "dense"))
    clustered = clustering.cluster_model(model, 8)
    wrappers = clustering.clustering_wrappers(clustered)
    initial = [c.numpy().copy() for w in wrappers for c in w.cluster_centroids.values()]
    trainer = Trainer(
        tf.distribute.get_strategy(),
        str(tmp / "train"),
        clustered,
        keras.optimizers.Adam(1e-3),
        loss_fn,
        total_steps=3,
        checkpoint_every=100,
        log=lambda *_: None,
    )
    trainer.train(dataset())
    trained = [c.numpy().copy() for w in wrappers for c in w.cluster_centroids.values()]
    stripped = clustering.strip_clustering(clustered)
    return {
        "tmp": tmp,
        "model": model,
        "clustered": clustered,
        "stripped": stripped,
        "order": order,
        "initial": initial,
        "trained": trained,
    }


def test_every_kernel_keeps_at_most_k_trained_values(run):
    assert run["stripped"] is run["model"]
    counts = unique_counts(run["model"])
    assert len(counts) == 6 * CONFIG.num_layers + 2
    assert all(2 <= n <= 8 for n in counts.values()), counts
    table = run["model"].encoder.embedding_layer.word_embeddings.numpy()
    assert len(np.unique(table)) > 8  # the embedding table is not clustered
    # the centroids were fine-tuned, and the kernels hold the trained ones
    assert all(np.abs(a - b).max() > 0 for a, b in zip(run["initial"], run["trained"]))
    kernel = run["model"].encoder.transformer_layers[0].intermediate.kernel.numpy()
    assert set(np.unique(kernel)) <= set(np.concatenate(run["trained"]).tolist())


def test_strip_restores_the_variables_in_their_order(run):
    model = run["model"]
    assert [w.name for w in model.weights] == run["order"]
    assert all(isinstance(w, tf.Variable) for w in model.weights)
    x = features(4, seed=6)
    # after strip the wrappers are inert: the wrapped model computes the same
    assert max_abs_diff(run["clustered"](x)["logits"], model(x)["logits"]) < 1e-6


def test_clustered_model_runs_reloads_and_compresses(run):
    tmp = run["tmp"]
    tfmodels.save_pretrained(run["stripped"], str(tmp / "clustered"))
    loaded = tfmodels.from_pretrained(str(tmp / "clustered"))
    x = features(4, seed=8)
    logits = loaded(x)["logits"].numpy()
    assert np.isfinite(logits).all()
    assert max_abs_diff(logits, run["stripped"](x)["logits"]) < 1e-6
    assert unique_counts(loaded) == unique_counts(run["stripped"])
    assert gzip_size(tmp / "clustered" / "model.safetensors") < 0.8 * gzip_size(
        tmp / "dense" / "model.safetensors"
    )


@pytest.mark.parametrize("clusters", [16, 32, 64])
def test_cluster_counts_without_training(clusters):
    model = bert.BertForSequenceClassification(CONFIG, num_labels=2)
    before = {name: v.numpy().copy() for name, v in target_weights(model)}
    clustering.strip_clustering(clustering.cluster_model(model, clusters))
    for name, variable in target_weights(model):
        values = variable.numpy()
        if values.size > clusters:
            assert len(np.unique(values)) <= clusters, name
        else:  # too small to cluster (the 32x2 classifier kernel at K=64): untouched
            np.testing.assert_array_equal(values, before[name])


@pytest.fixture(scope="module")
def tiny():
    return bert.BertForSequenceClassification(CONFIG, num_labels=2)


@pytest.mark.parametrize("clusters", [1, 0, -4, 2.5, True, "16", None])
def test_bad_cluster_count_is_a_config_error(tiny, clusters):
    with pytest.raises(ConfigError, match="number_of_clusters"):
        clustering.cluster_model(tiny, clusters)


def test_bad_init_or_strip_is_a_config_error(tiny):
    with pytest.raises(ConfigError, match="init"):
        clustering.cluster_model(tiny, 16, init="kmeans")
    with pytest.raises(ConfigError, match="number_of_clusters"):
        clustering.cluster_model(tiny, 2, preserve_sparsity=True)
    with pytest.raises(ConfigError, match="not a model returned by cluster_model"):
        clustering.strip_clustering(tiny)
