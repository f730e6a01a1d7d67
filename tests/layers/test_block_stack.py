"""A classifier's last block computes the first token's row alone: the same logits and
gradients as the full block, for a fraction of its matmuls."""

import numpy as np
import pytest
import tensorflow as tf

from tests.models import (
    test_albert,
    test_bert,
    test_deberta,
    test_distilbert,
    test_electra,
    test_roberta,
)
from tfmodels.models import registry
from tfmodels.models.base import FEATURES

CONFIGS = {
    "albert": test_albert.TINY,
    "bert": test_bert.TINY,
    "deberta-v2": test_deberta.TINY,
    "distilbert": test_distilbert.TINY,
    "electra": test_electra.TINY,
    "roberta": test_roberta.TINY,
}
BATCH, LENGTH = 2, 8


def features(config):
    ids = tf.random.stateless_uniform([BATCH, LENGTH], [1, 2], 3, config.vocab_size, tf.int32)
    mask = tf.constant([[1] * LENGTH, [1] * 5 + [0] * (LENGTH - 5)])  # one padded row
    return {"input_ids": ids, "input_mask": mask, "segment_ids": tf.zeros_like(ids)}


def classifiers(name):
    """The family's classifier and its twin that pools from the full last block."""
    cls = registry.family(name).tasks["classification"]
    assert cls.first_token_output
    full_cls = type("Full" + cls.__name__, (cls,), {"first_token_output": False})
    model, full = cls(CONFIGS[name], num_labels=3), full_cls(CONFIGS[name], num_labels=3)
    f = features(CONFIGS[name])
    model(f), full(f)
    full.set_weights(model.get_weights())
    return model, full, f


def logits_and_gradients(model, f):
    with tf.GradientTape() as tape:
        logits = model(f, training=False)["logits"]
        loss = tf.reduce_sum(logits * tf.constant([1.0, -2.0, 0.5]))
    gradients = tape.gradient(loss, model.trainable_variables)
    return [logits] + [tf.convert_to_tensor(g) for g in gradients]  # embeddings': dense


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_logits_and_gradients_equal_the_full_last_block(name):
    model, full, f = classifiers(name)
    out = model.encoder(f)
    np.testing.assert_allclose(
        out["first_token_output"], out["sequence_output"][:, 0], atol=1e-5, rtol=1e-5
    )
    got, expected = logits_and_gradients(model, f), logits_and_gradients(full, f)
    names = ["logits"] + [v.name for v in model.trainable_variables]
    for what, g, e in zip(names, got, expected):
        assert g is not None and e is not None, what
        np.testing.assert_allclose(g, e, atol=1e-5, rtol=1e-4, err_msg=what)
    assert float(tf.reduce_max(tf.abs(got[1]))) > 0  # a gradient that is not trivially 0


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_the_last_feed_forward_network_runs_on_one_row_per_example(name):
    model, full, _ = classifiers(name)
    config = CONFIGS[name]
    blocks = len(model.encoder(features(config))["encoder_outputs"])  # ALBERT: applications
    spec = {k: tf.TensorSpec([BATCH, LENGTH], tf.int32) for k in FEATURES}

    def feed_forward_rows(m):
        """The rows of each FFN input matmul that the logits depend on."""
        fn = tf.function(lambda x: m(x, training=False)["logits"]).get_concrete_function(spec)
        kept = tf.compat.v1.graph_util.extract_sub_graph(
            fn.graph.as_graph_def(), [fn.outputs[0].op.name]
        )
        kept = {node.name for node in kept.node}
        return sorted(
            op.outputs[0].shape[0]
            for op in fn.graph.get_operations()
            if op.name in kept
            and op.type == "MatMul"
            and op.outputs[0].shape[-1] == config.intermediate_size
        )

    assert feed_forward_rows(model) == [BATCH] + [BATCH * LENGTH] * (blocks - 1)
    assert feed_forward_rows(full) == [BATCH * LENGTH] * blocks


def test_the_flag_is_in_the_saved_config_only_when_set():
    model, full, f = classifiers("bert")
    assert model.encoder.get_config()["first_token_output"] is True
    assert "first_token_output" not in full.encoder.get_config()
    rebuilt = type(model.encoder).from_config(model.encoder.get_config())
    assert "first_token_output" in rebuilt(f)
