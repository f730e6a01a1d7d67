"""ALBERT-style sharing of a trained BERT classifier's blocks."""

import numpy as np
import pytest

import tfmodels
from tests.conftest import fixture_path
from tfmodels.compression.layer_sharing import share_layers
from tfmodels.errors import ConfigError

FEATURES = {
    "input_ids": np.array([[2, 5, 6, 7, 3, 0], [2, 9, 3, 0, 0, 0]]),
    "input_mask": np.array([[1, 1, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0]]),
    "segment_ids": np.zeros((2, 6), np.int32),
}


def test_equal_blocks_give_the_same_classifier_with_fewer_parameters():
    model = tfmodels.from_pretrained(fixture_path("bert_tiny_classifier"))
    blocks = model.encoder.transformer_layers
    for block in blocks[1:]:
        block.set_weights(blocks[0].get_weights())
    shared = share_layers(model)
    assert shared.architecture == "AlbertForSequenceClassification"
    np.testing.assert_allclose(shared(FEATURES)["logits"], model(FEATURES)["logits"], atol=1e-6)
    block = sum(w.numpy().size for w in blocks[0].weights)
    hidden = model.config.hidden_size
    assert shared.count_params() == (
        model.count_params() - (len(blocks) - 1) * block + hidden * hidden + hidden
    )


def test_the_shared_block_is_the_mean_of_the_blocks():
    model = tfmodels.from_pretrained(fixture_path("bert_tiny_classifier"))
    shared = share_layers(model)
    expected = np.mean([b.get_weights()[0] for b in model.encoder.transformer_layers], axis=0)
    np.testing.assert_allclose(shared.encoder.transformer_layers[0].get_weights()[0], expected)


def test_pruned_heads_are_refused():
    model = tfmodels.from_pretrained(
        fixture_path("bert_tiny_pruned_heads"), architecture="classification"
    )
    with pytest.raises(ConfigError, match="pruned heads"):
        share_layers(model)
