"""Attention-head pruning: importance, physically smaller models, save/reload, HF parity."""

import contextlib
import json

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import fixture_path, max_abs_diff
from tfmodels.compression import head_pruning
from tfmodels.errors import ConfigError
from tfmodels.models import bert
from tfmodels.tasks.classification import loss_fn

TINY = bert.Config(
    vocab_size=60,
    hidden_size=32,
    num_layers=2,
    num_heads=4,
    intermediate_size=48,
    max_position_embeddings=16,
)
REMOVE = {0: [1, 3], 1: [2]}


def make_features(batch=5, length=10, seed=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 60, size=(batch, length)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 6:] = 0  # padded rows
    mask[3, 4:] = 0
    types = np.zeros_like(ids)
    types[0, 5:] = 1
    return {"input_ids": ids, "input_mask": mask, "segment_ids": types}


@pytest.fixture(scope="module")
def model():
    tf.keras.utils.set_random_seed(1)
    classifier = bert.BertForSequenceClassification(TINY, num_labels=3)
    # Non-zero biases, so a bias sliced or copied wrongly cannot hide.
    for variable in classifier.weights:
        if len(variable.shape) == 1 and "layer_norm" not in variable.name:
            variable.assign(tf.random.normal(variable.shape, stddev=0.1, seed=2))
    return classifier


@pytest.fixture(scope="module")
def dataset():
    labels = np.array([0, 1, 2, 1, 0], np.int32)
    return tf.data.Dataset.from_tensor_slices((make_features(), labels)).batch(3)


def outputs(model, features, removed=None):
    """Logits and last hidden state; with ``removed``, ``model`` (the unpruned model)
    runs with gate 0 on the ``removed`` heads."""
    gates = np.ones([len(features["input_ids"]), TINY.num_layers, TINY.num_heads], np.float32)
    for layer, heads in (removed or {}).items():
        gates[:, layer, heads] = 0.0
    with contextlib.ExitStack() as stack:
        if removed is not None:
            stack.enter_context(head_pruning.gates_installed(model, tf.constant(gates)))
        return (
            model(features)["logits"].numpy(),
            model.encoder(features)["sequence_output"].numpy(),
        )


def assert_close(got, expected, tolerance=1e-5):
    for a, b in zip(got, expected):
        assert max_abs_diff(a, b) <= tolerance


def test_the_model_has_no_gate_and_gates_of_one_change_nothing(model):
    assert set(model.input) == {"input_ids", "input_mask", "segment_ids"}
    features = make_features()
    assert_close(outputs(model, features, {}), outputs(model, features), 0.0)
    with head_pruning.gates_installed(model, tf.ones([5, 2, 4])):
        assert all(b.attention.head_gate is not None for b in model.encoder.transformer_layers)
    assert all(b.attention.head_gate is None for b in model.encoder.transformer_layers)


def test_pruned_kernels_are_smaller(model):
    pruned = head_pruning.prune_heads(model, REMOVE)
    for block, heads in zip(pruned.encoder.transformer_layers, (2, 3)):
        attention = block.attention
        assert (attention.num_heads, attention.head_size) == (heads, 8)
        for dense in (attention.query, attention.key, attention.value):
            assert dense.kernel.shape == (32, heads * 8) and dense.bias.shape == (heads * 8,)
        assert attention.output_dense.kernel.shape == (heads * 8, 32)
    assert pruned.count_params() == model.count_params() - 3 * (3 * (32 * 8 + 8) + 8 * 32)
    assert model.encoder.transformer_layers[0].attention.query.kernel.shape == (32, 32)
    assert pruned.config.pruned_heads == REMOVE and model.config.pruned_heads == {}


def test_pruned_model_equals_masked_original(model):
    features = make_features()
    pruned = head_pruning.prune_heads(model, REMOVE)
    expected = outputs(model, features, REMOVE)
    assert_close(outputs(pruned, features), expected)
    assert max_abs_diff(outputs(model, features)[1], expected[1]) > 1e-2  # the heads mattered
    # Pruning again names heads in the original numbering.
    again = head_pruning.prune_heads(pruned, {0: [0], 1: [3]})
    assert again.config.pruned_heads == {0: [0, 1, 3], 1: [2, 3]}
    assert_close(outputs(again, features), outputs(model, features, again.config.pruned_heads))


def test_save_and_reload_keep_shapes_and_outputs(model, tmp_path):
    features = make_features()
    pruned = head_pruning.prune_heads(model, REMOVE)
    tfmodels.save_pretrained(pruned, str(tmp_path))
    with open(tmp_path / "config.json") as f:
        assert json.load(f)["pruned_heads"] == {"0": [1, 3], "1": [2]}  # HF's spelling
    reloaded = tfmodels.from_pretrained(str(tmp_path))
    assert reloaded.config.pruned_heads == REMOVE
    assert [b.attention.query.kernel.shape[-1] for b in reloaded.encoder.transformer_layers] == [
        16,
        24,
    ]
    assert_close(outputs(reloaded, features), outputs(pruned, features), 0.0)


def test_config_with_pruned_heads_builds_the_small_model():
    config = bert.Config.from_hf({**TINY.to_hf(), "pruned_heads": {"1": [0, 3]}})
    assert config.pruned_heads == {1: [0, 3]} and config.kept_heads(1) == [1, 2]
    encoder = bert.BertModel(config)
    assert [b.attention.num_heads for b in encoder.transformer_layers] == [4, 2]
    assert encoder.transformer_layers[1].attention.value.kernel.shape == (32, 16)
    assert "pruned_heads" not in TINY.to_hf()  # unpruned configs write what they did before


def test_importance_is_per_example_and_normalized(model, dataset):
    importance = head_pruning.head_importance(model, dataset, loss_fn)
    assert importance.shape == (2, 4) and np.all(importance > 0)
    # Eq. 3 written out: the mean over examples of |dL(x)/dxi|, one example at a time,
    # then each layer divided by its L2 norm.
    expected = np.zeros([2, 4])
    examples = list(dataset.unbatch().batch(1))
    for features, labels in examples:
        gates = tf.ones([1, 2, 4])
        with tf.GradientTape() as tape:
            tape.watch(gates)
            with head_pruning.gates_installed(model, gates):
                loss, _ = loss_fn(model, (features, labels), False)
        expected += np.abs(tape.gradient(loss, gates).numpy()[0]) / len(examples)
    expected /= np.linalg.norm(expected, axis=-1, keepdims=True)
    np.testing.assert_allclose(importance, expected, rtol=1e-4)
    # |gradient of the batch loss| (not per example) would give different scores.
    batch_level = np.zeros([2, 4])
    for features, labels in dataset:
        gates = tf.ones([len(labels), 2, 4])
        with tf.GradientTape() as tape:
            tape.watch(gates)
            with head_pruning.gates_installed(model, gates):
                loss, _ = loss_fn(model, (features, labels), False)
        batch_level += np.abs(tape.gradient(loss, gates).numpy().sum(0))
    batch_level /= np.linalg.norm(batch_level, axis=-1, keepdims=True)
    assert max_abs_diff(batch_level, importance) > 1e-3


def test_least_important_heads_never_empty_a_layer():
    config = bert.Config(num_layers=2, num_heads=2, hidden_size=8)
    importance = np.array([[0.1, 0.2], [0.9, 0.3]])
    assert head_pruning.least_important_heads(importance, config, 2) == {0: [0], 1: [1]}


def test_iterative_pruning(model, dataset):
    pruned, log = head_pruning.iterative_head_pruning(model, dataset, loss_fn, 0.5, step=0.25)
    assert [entry["heads_left"] for entry in log] == [6, 4]
    assert head_pruning.num_heads_left(pruned.config) == 4
    assert pruned.config.pruned_heads == log[-1]["pruned_heads"]
    # Step 1 removed the two least important heads (one layer could not lose both).
    first = log[0]
    assert first["removed"] == head_pruning.least_important_heads(
        first["importance"], model.config, 2
    )
    # Step 2's importance was measured on the pruned model: removed heads score 0.
    for layer, heads in first["removed"].items():
        assert np.all(log[1]["importance"][layer, heads] == 0)
    features = make_features()
    assert_close(outputs(pruned, features), outputs(model, features, pruned.config.pruned_heads))


@pytest.mark.parametrize("fraction", [1.0, -0.1, 0.9])
def test_bad_fractions_are_config_errors(model, dataset, fraction):
    with pytest.raises(ConfigError, match="fraction|at most 6 can go"):
        head_pruning.iterative_head_pruning(model, dataset, loss_fn, fraction)


@pytest.mark.parametrize(
    "heads,message",
    [
        ({0: [4]}, "layer 0 has no head 4"),
        ({2: [0]}, "layer 2 does not exist"),
        ({1: [0, 1, 2, 3]}, "removing all 4 heads of layer 1"),
        ({0: "1"}, "list of head indexes"),
    ],
)
def test_bad_heads_are_config_errors(model, heads, message):
    with pytest.raises(ConfigError, match=message):
        head_pruning.prune_heads(model, heads)


def test_pruning_a_removed_head_or_a_layers_last_head_is_an_error(model):
    pruned = head_pruning.prune_heads(model, {1: [0, 1, 2]})
    with pytest.raises(ConfigError, match="head 1 of layer 1 is already removed"):
        head_pruning.prune_heads(pruned, {1: [1]})
    with pytest.raises(ConfigError, match="removing all 4 heads of layer 1"):
        head_pruning.prune_heads(pruned, {1: [3]})


def test_loads_a_checkpoint_pruned_by_huggingface():
    """Written by tools/make_fixtures.py (bert_tiny_pruned_heads) with transformers' prune_heads."""
    path = fixture_path("bert_tiny_pruned_heads")
    model = tfmodels.from_pretrained(path)
    assert model.config.pruned_heads == {0: [1, 3], 1: [2]}
    assert [b.attention.num_heads for b in model.encoder.transformer_layers] == [2, 3]
    ref = dict(np.load(fixture_path("bert_tiny_pruned_heads", "reference.npz")))
    features = {k: ref[k] for k in ("input_ids", "input_mask", "segment_ids")}
    assert max_abs_diff(model(features)["logits"], ref["logits"]) <= 1e-4
    assert max_abs_diff(model.encoder(features)["sequence_output"], ref["sequence_output"]) <= 1e-4
