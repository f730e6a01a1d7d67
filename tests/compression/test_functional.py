"""flat_model: one graph over the same layers, same outputs, shared weights."""

import numpy as np
import tensorflow as tf
from tf_keras.src.engine.functional import Functional

from tfmodels.compression.functional import flat_model
from tfmodels.models import bert

CONFIG = bert.Config(
    vocab_size=50,
    hidden_size=16,
    num_layers=2,
    num_heads=2,
    intermediate_size=32,
    max_position_embeddings=32,
)
FEATURES = {
    "input_ids": tf.constant([[1, 2, 3, 0], [4, 5, 6, 7]]),
    "input_mask": tf.constant([[1, 1, 1, 0], [1, 1, 1, 1]]),
    "segment_ids": tf.constant([[0, 0, 1, 0], [0, 1, 1, 1]]),
}


def test_flat_model_has_no_nested_model_and_shares_weights():
    for cls in (bert.BertForSequenceClassification, bert.BertForPreTraining, bert.BertModel):
        model = cls(CONFIG)
        flat = flat_model(model)
        assert not any(isinstance(layer, Functional) for layer in flat.layers)
        assert {id(w) for w in flat.weights} == {id(w) for w in model.weights}
        expected, got = model(FEATURES), flat(FEATURES)
        for name in expected:
            if name != "encoder_outputs":
                np.testing.assert_array_equal(got[name], expected[name])


def test_training_the_flat_model_changes_the_original():
    model = bert.BertForSequenceClassification(CONFIG)
    flat = flat_model(model)
    kernel = model.classifier_head.out.kernel
    before = kernel.numpy().copy()
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(flat(FEATURES)["logits"])
    grads = tape.gradient(loss, flat.trainable_variables)
    for var, grad in zip(flat.trainable_variables, grads):
        var.assign_sub(0.1 * tf.convert_to_tensor(grad))
    assert np.abs(kernel.numpy() - before).max() > 0
