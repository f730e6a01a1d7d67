"""Magnitude and 2:4 pruning: target sparsity through our Trainer, strip, reload, file sizes."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras
from tensorflow_model_optimization.python.core.sparsity.keras.pruning_utils import is_pruned_m_by_n

import tfmodels
from tests.conftest import max_abs_diff
from tfmodels.compression import pruning
from tfmodels.compression.sizes import gzip_size, raw_size
from tfmodels.errors import ConfigError
from tfmodels.models import bert
from tfmodels.tasks.classification import loss_fn
from tfmodels.training.trainer import Trainer

CONFIG = bert.Config(
    vocab_size=60,
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    intermediate_size=64,
    max_position_embeddings=16,
)
SEQ = 8


def features(n=16, seed=0):
    ids = np.random.default_rng(seed).integers(1, 60, size=(n, SEQ)).astype(np.int32)
    segments = np.zeros_like(ids)
    segments[:, SEQ // 2 :] = 1
    return {"input_ids": ids, "input_mask": np.ones_like(ids), "segment_ids": segments}


def dataset():
    f = features()
    labels = (f["input_ids"][:, 0] % 2).astype(np.int32)
    return tf.data.Dataset.from_tensor_slices((f, labels)).batch(8).repeat()


def eager_steps(model, steps):
    """Plain eager training steps (no tracing): enough where only the masks matter."""
    optimizer = keras.optimizers.Adam(1e-3)
    for x, y in dataset().take(steps):
        with tf.GradientTape() as tape:
            loss, _ = loss_fn(model, (x, y), training=True)
        optimizer.apply_gradients(
            zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables)
        )


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """A classifier pruned to 75% by our Trainer's custom loop, then stripped."""
    tmp = tmp_path_factory.mktemp("pruning")
    tf.keras.utils.set_random_seed(1)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=2)
    tfmodels.save_pretrained(model, str(tmp / "dense"))
    pruned = pruning.prune_model(model, 0.75, begin_step=0, end_step=6, frequency=2)
    trainer = Trainer(
        tf.distribute.get_strategy(),
        str(tmp / "train"),
        pruned,
        keras.optimizers.Adam(1e-3),
        loss_fn,
        total_steps=6,
        checkpoint_every=100,
        log=lambda *_: None,
    )
    trainer.train(dataset())
    steps = pruning.pruning_step(pruned)
    stripped = pruning.strip_pruning(pruned)
    return {"tmp": tmp, "model": model, "pruned": pruned, "stripped": stripped, "steps": steps}


def test_trainer_prunes_every_dense_kernel_to_the_target(run):
    assert run["stripped"] is run["model"]
    assert run["steps"] == 6  # one pruning step per training forward pass
    sparsity = pruning.weight_sparsity(run["model"])
    # attention q/k/v/output, FFN in/out, pooler, classifier
    assert len(sparsity) == 6 * CONFIG.num_layers + 2
    assert any("attention/query" in name for name in sparsity)
    for name, value in sparsity.items():
        assert abs(value - 0.75) <= 0.01, name
    table = run["model"].encoder.embedding_layer.word_embeddings.numpy()
    assert np.count_nonzero(table) == table.size  # embeddings stay dense by default


def test_stripped_model_reloads_with_its_zeros_and_outputs(run):
    path = str(run["tmp"] / "pruned")
    tfmodels.save_pretrained(run["stripped"], path)
    loaded = tfmodels.from_pretrained(path)
    x = features(4, seed=5)
    assert max_abs_diff(loaded(x)["logits"], run["stripped"](x)["logits"]) < 1e-6
    assert max_abs_diff(run["pruned"](x)["logits"], run["stripped"](x)["logits"]) < 1e-6
    for (name, a), (_, b) in zip(
        pruning.target_weights(run["stripped"]), pruning.target_weights(loaded)
    ):
        np.testing.assert_array_equal(a.numpy() == 0, b.numpy() == 0, err_msg=name)


def test_pruned_safetensors_compress_better_than_dense(run):
    # TFLite files are measured on the real MiniLM instead: two conversions take ~1 min.
    tmp = run["tmp"]
    if not (tmp / "pruned").exists():
        tfmodels.save_pretrained(run["stripped"], str(tmp / "pruned"))
    dense_st, pruned_st = tmp / "dense" / "model.safetensors", tmp / "pruned" / "model.safetensors"
    assert raw_size(pruned_st) == raw_size(dense_st)  # zeros take as many bytes...
    assert gzip_size(pruned_st) < 0.8 * gzip_size(dense_st)  # ...but compress
    assert gzip_size(tmp / "dense") == gzip_size(tmp / "dense")  # directories: deterministic
    assert gzip_size(tmp / "dense") > gzip_size(dense_st)


def test_two_four_pattern_along_the_input_axis():
    tf.keras.utils.set_random_seed(2)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=2)
    pruned = pruning.prune_model(model, pattern="2:4")
    eager_steps(pruned, 2)
    pruning.strip_pruning(pruned)
    weights = pruning.target_weights(model)
    assert len(weights) == 6 * CONFIG.num_layers + 2
    for name, variable in weights:
        kernel = variable.numpy()  # [in, out]: groups of 4 consecutive inputs per output
        groups = kernel.T.reshape(kernel.shape[1], -1, 4)
        assert ((groups == 0).sum(-1) >= 2).all(), name
        assert is_pruned_m_by_n(tf.constant(kernel), (2, 4)), name  # TF-MOT's own check
        assert abs((kernel == 0).mean() - 0.5) < 1e-6, name


def test_embedding_table_pruned_on_request():
    tf.keras.utils.set_random_seed(3)
    model = bert.BertForSequenceClassification(CONFIG, num_labels=2)
    pruned = pruning.prune_model(
        model, 0.5, begin_step=0, end_step=1, frequency=1, include_embeddings=True
    )
    eager_steps(pruned, 1)
    x = features(4, seed=7)  # segment ids reach the wrapped embedding layer
    assert max_abs_diff(pruned(x)["logits"], model(x)["logits"]) < 1e-6
    pruning.strip_pruning(pruned)
    sparsity = pruning.weight_sparsity(model, include_embeddings=True)
    assert abs(sparsity["embeddings/word_embeddings:0"] - 0.5) <= 0.01


def test_a_layer_called_twice_still_counts_forward_passes():
    inputs = keras.Input((8,))
    shared = keras.layers.Dense(8, name="shared")  # called twice, as ALBERT calls its block
    model = keras.Model(inputs, keras.layers.Dense(1, name="out")(shared(shared(inputs))))
    pruned = pruning.prune_model(model, 0.5, begin_step=0, end_step=4, frequency=2)
    x = np.ones((2, 8), np.float32)
    for passes, sparsity in ((2, 0.5 * (1 - 0.5**3)), (4, 0.5)):
        while pruning.pruning_step(pruned) < passes:
            pruned(x, training=True)
        assert (shared.kernel.numpy() == 0).mean() == sparsity


@pytest.fixture(scope="module")
def tiny():
    return bert.BertForSequenceClassification(CONFIG, num_labels=2)


@pytest.mark.parametrize("sparsity", [-0.1, 1.0, 1.5, True, "0.5", None])
def test_sparsity_outside_zero_one_is_a_config_error(tiny, sparsity):
    with pytest.raises(ConfigError, match="target_sparsity"):
        pruning.prune_model(tiny, sparsity, end_step=10, frequency=1)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"pattern": "2:2"}, "pattern"),
        ({"pattern": "4:2"}, "pattern"),
        ({"pattern": "2-4"}, "pattern"),
        ({"pattern": "2:4", "target_sparsity": 0.8}, "0.5"),
        ({"target_sparsity": 0.5}, "end_step"),
        ({"target_sparsity": 0.5, "end_step": 0}, "end_step"),
        ({"target_sparsity": 0.5, "end_step": 10, "frequency": 0}, "frequency"),
        ({"target_sparsity": 0.5, "end_step": 10, "frequency": 3}, "multiple of frequency"),
        (
            {"target_sparsity": 0.5, "end_step": 10, "frequency": 1, "initial_sparsity": 0.6},
            "initial_sparsity",
        ),
    ],
)
def test_bad_schedule_or_pattern_is_a_config_error(tiny, kwargs, message):
    with pytest.raises(ConfigError, match=message):
        pruning.prune_model(tiny, **kwargs)


def test_strip_needs_a_pruned_model(tiny):
    with pytest.raises(ConfigError, match="not a model returned by prune_model"):
        pruning.strip_pruning(tiny)
