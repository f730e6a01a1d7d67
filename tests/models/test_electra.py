"""ELECTRA family: the common checks (tests/models/harness.py) and what is ELECTRA's own:
the small models' parameter counts, config defaults and errors, the generator's MLM head,
sharing embeddings between generator and discriminator."""

import pytest
import tensorflow as tf

import tfmodels
from tests.conftest import zero_initialized
from tests.models import harness
from tests.models.harness import Role
from tfmodels.api import load_model_config
from tfmodels.errors import ConfigError
from tfmodels.layers import TransformerEmbeddings
from tfmodels.models import electra

# E=16 < H=32: the embeddings are projected, as in ELECTRA-Small.
TINY = electra.Config(
    vocab_size=60,
    embedding_size=16,
    hidden_size=32,
    num_layers=1,
    num_heads=4,
    intermediate_size=48,
    max_position_embeddings=16,
    hidden_act="relu",
)


def features(batch=2, length=6):
    ids = tf.random.uniform([batch, length], 1, 60, tf.int32, seed=1)
    return {
        "input_ids": ids,
        "input_mask": tf.ones_like(ids),
        "segment_ids": tf.concat(
            [tf.zeros([batch, 3], tf.int32), tf.ones([batch, length - 3], tf.int32)], 1
        ),
    }


SEQUENCE = (2, 6, 32)  # no pooled_output: ELECTRA has no pooler
SPEC = harness.FamilySpec(
    "electra",
    TINY,
    features(),
    {
        "backbone": Role(
            electra.ElectraModel,
            "ElectraModel",
            {"sequence_output": SEQUENCE, "encoder_outputs": [SEQUENCE]},
        ),
        "pretraining": Role(
            electra.ElectraForPreTraining,
            "ElectraForPreTraining",
            {"sequence_output": SEQUENCE, "rtd_logits": (2, 6)},
        ),
        "masked_lm": Role(
            electra.ElectraForMaskedLM,
            "ElectraForMaskedLM",
            {"sequence_output": SEQUENCE, "mlm_logits": (2, 6, 60)},
        ),
        "classification": Role(
            electra.ElectraForSequenceClassification,
            "ElectraForSequenceClassification",
            {"logits": (2, 2)},
        ),
        "token_classification": Role(
            electra.ElectraForTokenClassification,
            "ElectraForTokenClassification",
            {"logits": (2, 6, 2)},
        ),
        "question_answering": Role(
            electra.ElectraForQuestionAnswering,
            "ElectraForQuestionAnswering",
            {"start_logits": (2, 6), "end_logits": (2, 6)},
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)


def test_small_generator_and_discriminator_have_the_reference_parameter_counts():
    # The released small generator is the small discriminator's network.
    assert load_model_config("electra_small_generator") == load_model_config(
        "electra_small_discriminator"
    )
    with zero_initialized():
        model = tfmodels.build("electra_small_generator", architecture="ElectraForMaskedLM")
    assert model.encoder.count_params() == 13_483_008  # ElectraModel
    assert model.count_params() == 13_546_682  # ElectraForMaskedLM: the output table is tied


def test_config_defaults_hf_names_and_errors():
    assert (electra.Config().embedding_size, electra.Config().hidden_size) == (128, 256)
    hf = electra.Config.from_hf(
        {
            "num_hidden_layers": 3,
            "embedding_size": 64,
            "summary_type": "first",
            "classifier_dropout": 0.3,
        }
    )
    assert (hf.num_layers, hf.embedding_size, hf.classifier_dropout) == (3, 64, 0.3)
    assert hf.to_hf()["num_hidden_layers"] == 3 and hf.to_hf()["embedding_size"] == 64
    with pytest.raises(ConfigError, match="tie_word_embeddings"):
        electra.Config.from_hf({"tie_word_embeddings": False})
    with pytest.raises(ConfigError, match="with_pooler: ELECTRA has no pooler"):
        electra.ElectraModel(TINY, with_pooler=True)


def test_generator_head_is_tied_h_to_e_to_v_with_exact_gelu(models):
    model = models["masked_lm"]  # hidden_act is relu; the head's GELU is exact whatever it is
    assert model.mlm_head.embedding_layer is model.encoder.embedding_layer
    assert model.mlm_head.activation == "gelu"
    assert model.mlm_head.transform.kernel.shape == (32, 16)


def test_share_embeddings_checks_shapes_before_sharing():
    ids = tf.zeros([1, 4], tf.int32)
    source, target = (
        TransformerEmbeddings(60, 16, max_positions=n, hidden_size=32) for n in (16, 8)
    )
    source(ids), target(ids)
    with pytest.raises(ConfigError, match=r"cannot share position_embeddings: shape \(16, 16\)"):
        electra.share_embeddings(source, target)
    assert target.word_embeddings is not source.word_embeddings  # nothing half-shared
