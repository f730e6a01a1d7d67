"""The common checks (tests/models/harness.py) can fail: each is shown a model, a config or
a declaration broken in the way it looks for, and refuses it; the float32 policy survives a
failing mixed_bfloat16 check."""

import dataclasses

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from tests.models import harness
from tests.models.harness import Role
from tfmodels.models import bert, xlnet

TINY = bert.Config(
    vocab_size=20,
    hidden_size=8,
    num_layers=1,
    num_heads=2,
    intermediate_size=8,
    max_position_embeddings=8,
)
IDS = np.array([[3, 4, 5, 6], [7, 8, 9, 10]], np.int32)
FEATURES = {"input_ids": IDS, "input_mask": np.ones_like(IDS), "segment_ids": np.zeros_like(IDS)}
OUTPUTS = {"sequence_output": (2, 4, 8), "pooled_output": (2, 8), "encoder_outputs": [(2, 4, 8)]}


class ForgetsAttentionScores(bert.BertModel):
    """get_config leaves out a constructor argument: the rebuilt model differs."""

    def get_config(self):
        config = super().get_config()
        del config["output_attention_scores"]
        return config


class AlwaysTraining(bert.BertModel):
    """Dropout even at inference: outputs change from call to call."""

    def __call__(self, inputs, *args, **kwargs):
        return super().__call__(inputs, *args, **{**kwargs, "training": True})


class Float32Outputs(bert.BertModel):
    """Casts its outputs to float32: under mixed_bfloat16 nothing is computed in bfloat16."""

    def call(self, inputs, training=None, mask=None):
        return tf.nest.map_structure(
            lambda t: tf.cast(t, tf.float32), super().call(inputs, training=training, mask=mask)
        )


class WrongInBfloat16(bert.BertModel):
    """Its bfloat16 path computes something else than its float32 one."""

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        if self.compute_dtype == "bfloat16":
            outputs = {**outputs, "sequence_output": outputs["sequence_output"] + 1.0}
        return outputs


class FloatOnly(bert.BertModel):
    """Cannot be built under mixed_bfloat16."""

    def __init__(self, config, **kwargs):
        if keras.mixed_precision.global_policy().name != "float32":
            raise RuntimeError("float32 only")
        super().__init__(config, **kwargs)


class LossyHfConfig(bert.Config):
    """to_hf forgets a field."""

    def to_hf(self):
        hf = super().to_hf()
        del hf["intermediate_size"]
        return hf


def test_a_sound_model_passes_and_the_check_sees_all_three_builds(tmp_path):
    seen = []
    declared = Role(bert.BertModel, "BertModel", OUTPUTS, check=seen.append)
    harness.run_model_test(declared, TINY, FEATURES, tmp_path)
    assert len({id(model) for model in seen}) == 3
    assert [model.dtype_policy.name for model in seen] == ["float32", "float32", "mixed_bfloat16"]


def fails(model):
    pytest.fail("the family's check")


@pytest.mark.parametrize(
    "declared, failure",
    [
        (Role(bert.BertModel, "BertModel", {**OUTPUTS, "pooled_output": (2, 9)}), "output shapes"),
        (Role(bert.BertModel, "BertModel", {"sequence_output": (2, 4, 8)}), "output shapes"),
        (Role(bert.BertModel, "BertForMaskedLM", OUTPUTS), "architecture name"),
        (
            Role(
                ForgetsAttentionScores,
                "BertModel",
                {**OUTPUTS, "attention_scores": [(2, 2, 4, 4)]},
                kwargs={"output_attention_scores": True},
            ),
            "rebuilt outputs: keys",
        ),
        (Role(AlwaysTraining, "BertModel", OUTPUTS), "a second call"),
        (Role(Float32Outputs, "BertModel", OUTPUTS), "mixed_bfloat16 output dtypes"),
        (Role(WrongInBfloat16, "BertModel", OUTPUTS), "mixed_bfloat16 sequence_output far"),
        (Role(bert.BertModel, "BertModel", OUTPUTS, check=fails), "the family's check"),
    ],
    ids=[
        "shape",
        "keys",
        "architecture",
        "rebuild",
        "dropout",
        "not_bfloat16",
        "bfloat16_far",
        "family_check",
    ],
)
def test_a_broken_model_fails(declared, failure, tmp_path):
    with pytest.raises((AssertionError, pytest.fail.Exception), match=failure):
        harness.run_model_test(declared, TINY, FEATURES, tmp_path)
    assert keras.mixed_precision.global_policy().name == "float32"


def test_a_failing_mixed_precision_build_restores_the_policy(tmp_path):
    with pytest.raises(RuntimeError, match="float32 only"):
        harness.run_model_test(Role(FloatOnly, "BertModel", OUTPUTS), TINY, FEATURES, tmp_path)
    assert keras.mixed_precision.global_policy().name == "float32"


BERT_ROLES = {
    "backbone": Role(bert.BertModel, "BertModel", OUTPUTS),
    "pretraining": Role(bert.BertForPreTraining, "BertForPreTraining", {}),
    "masked_lm": Role(bert.BertForMaskedLM, "BertForMaskedLM", {}),
    "classification": Role(bert.BertForSequenceClassification, "BertForSequenceClassification", {}),
    "question_answering": Role(bert.BertForQuestionAnswering, "BertForQuestionAnswering", {}),
    "token_classification": Role(bert.BertForTokenClassification, "BertForTokenClassification", {}),
}


def test_the_declaration_checks_pass_for_bert():
    spec = harness.FamilySpec("bert", TINY, FEATURES, BERT_ROLES)
    harness.check_family(spec)
    for role in BERT_ROLES:
        harness.check_registry(spec, role)


@pytest.mark.parametrize(
    "roles",
    [
        {k: v for k, v in BERT_ROLES.items() if k != "question_answering"},
        {**BERT_ROLES, "pretraining": BERT_ROLES["masked_lm"]},
    ],
    ids=["role_left_out", "wrong_class"],
)
def test_a_wrong_declaration_fails(roles):
    with pytest.raises(AssertionError, match="the family's roles and classes"):
        harness.check_family(harness.FamilySpec("bert", TINY, FEATURES, roles))


def test_a_role_loading_another_class_fails():
    roles = {**BERT_ROLES, "masked_lm": Role(bert.BertForPreTraining, "BertForPreTraining", {})}
    with pytest.raises(AssertionError, match="class of the role"):
        harness.check_registry(harness.FamilySpec("bert", TINY, FEATURES, roles), "masked_lm")


def test_a_config_that_does_not_round_trip_fails():
    with pytest.raises(AssertionError, match="to_hf/from_hf"):
        harness.check_config_round_trips(LossyHfConfig(**dataclasses.asdict(TINY)))


def test_a_shared_name_loading_another_roles_class_fails():
    """XLNet's two LM roles share a name, which loads the first's class: listed the other
    way round, the declaration is wrong."""
    roles = {
        "backbone": Role(xlnet.XLNetModel, "XLNetModel", {}),
        "pretraining": Role(xlnet.XLNetPermutationLM, "XLNetLMHeadModel", {}),
        "lm": Role(xlnet.XLNetLMHeadModel, "XLNetLMHeadModel", {}),
    }
    with pytest.raises(AssertionError, match="class of the architecture name"):
        harness.check_registry(harness.FamilySpec("xlnet", None, FEATURES, roles), "lm")
