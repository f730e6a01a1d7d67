"""ELECTRA and DistilBERT HF checkpoints load, match the reference outputs, and save losslessly.

Fixtures: the electra_* and distilbert_* rows of tools/make_fixtures.py (tiny random
checkpoints with non-zero biases; padding in two rows; two token types -- which
DistilBERT, having none, must ignore).
"""

import pytest

from tests.convert.parity import (
    assert_outputs_match_reference,
    assert_save_pretrained_is_lossless,
    loaded,
)
from tfmodels.models import registry

FIXTURES = {  # name -> architecture of the checkpoint
    "electra_tiny_model": "ElectraModel",
    "electra_tiny_discriminator": "ElectraForPreTraining",
    "electra_tiny_generator": "ElectraForMaskedLM",
    "electra_tiny_classifier": "ElectraForSequenceClassification",
    "distilbert_tiny_model": "DistilBertModel",
    "distilbert_tiny_masked_lm": "DistilBertForMaskedLM",
    "distilbert_tiny_classifier": "DistilBertForSequenceClassification",
}


@pytest.mark.parametrize("name", FIXTURES)
def test_outputs_match_reference_and_save_pretrained_is_lossless(name, tmp_path):
    # Every position is compared; backbone outputs of task models (``sequence_output``
    # of a classifier) come from ``model.encoder``.
    compared = assert_outputs_match_reference(
        name, FIXTURES[name], everywhere=True, from_encoder=True
    )
    assert len(compared) >= 2, compared

    model = loaded(name)
    config, hf = assert_save_pretrained_is_lossless(model, name, tmp_path)
    assert config["model_type"] == hf["model_type"]
    # The hyper-parameters are written back under the reference's own names.
    assert registry.family(hf["model_type"]).config_class.from_hf(config) == model.config
    written = model.config.to_hf()
    assert {k: config[k] for k in written if k in hf} == {k: hf[k] for k in written if k in hf}
    names = {
        "distilbert": {"dim", "n_layers", "n_heads", "hidden_dim", "activation"},
        "electra": {"embedding_size", "num_hidden_layers", "num_attention_heads"},
    }
    assert names[hf["model_type"]] <= set(written)
