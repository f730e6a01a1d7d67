"""Every named configuration (tfmodels/configs/models/*.yaml) builds, is its family's backbone, and
has the parameter count of the reference implementation.

Counting is cheap: variables start at zero (no random draws) and the stack is built with
one and with two layers of each kind; every layer of a stack has the same size, so the
full count is the 1-layer count plus (depth - 1) times each stack's per-layer growth.
"""

import dataclasses

import pytest

from tests.conftest import zero_initialized
from tfmodels.api import load_model_config, model_names
from tfmodels.models import registry

# name: (backbone class, parameters). Where a HF class exists the count is
# HF <Backbone>Model(config).num_parameters(), pooler included (tools/make_fixtures*.py
# --counts; gpt2/xlnet/t5/bart from the released configurations).
REFERENCE = {
    "albert_base_v2": ("AlbertModel", 11_683_584),
    "albert_large_v2": ("AlbertModel", 17_683_968),
    "albert_xlarge_v2": ("AlbertModel", 58_724_864),
    "bart_base": ("BartModel", 139_420_416),
    "bert_base_uncased": ("BertModel", 109_482_240),
    "bert_large_uncased": ("BertModel", 335_141_888),
    "bert_tiny_l2_h128": ("BertModel", 4_385_920),  # google/bert_uncased_L-2_H-128_A-2
    "deberta_v3_base": ("DebertaV2Model", 183_831_552),
    "deberta_v3_base_generator": ("DebertaV2Model", 141_304_320),
    "deberta_v3_xsmall": ("DebertaV2Model", 70_682_112),
    "distilbert_base_uncased": ("DistilBertModel", 66_362_880),
    "electra_base_discriminator": ("ElectraModel", 108_891_648),
    "electra_small_discriminator": ("ElectraModel", 13_483_008),
    "electra_small_generator": ("ElectraModel", 13_483_008),  # the released generator
    "gpt2": ("GPT2Model", 124_439_808),
    "ibbert_teacher": ("MobileBertModel", 294_467_840),
    "minilm_l6_h384": ("BertModel", 22_713_216),
    "mobilebert_uncased": ("MobileBertModel", 24_844_544),
    "roberta_base": ("RobertaModel", 124_645_632),
    "spanbert_base_cased": ("BertModel", 108_310_272),  # BERT-base cased
    "t5_base": ("T5Model", 222_903_552),
    "t5_small": ("T5Model", 60_506_624),
    "tinybert_4l_312d": ("BertModel", 14_350_248),
    "tinybert_6l_768d": ("BertModel", 66_955_008),
    # No HF class: 6+6 blocks of d_model 512 and one shared 37,000-token table; the paper
    # (Vaswani et al. 2017, Table 3) rounds it to 65M.
    "transformer_base": ("TransformerModel", 63_082_496),
    "xlnet_base_cased": ("XLNetModel", 116_718_336),  # mask_emb included
}


def depth_fields(config):
    """The config's layer counts (``num_layers``, ``num_decoder_layers``, ...) that are set."""
    return {
        f.name: getattr(config, f.name)
        for f in dataclasses.fields(config)
        if f.name.endswith("layers")
        and isinstance(getattr(config, f.name), int)
        and getattr(config, f.name) > 0
    }


def count_parameters(config, backbone):
    """``backbone(config).count_params()`` from 1- and 2-layer builds of each stack."""

    def count(**depths):
        with zero_initialized():
            return backbone(dataclasses.replace(config, **depths)).count_params()

    depths = depth_fields(config)
    one = {name: 1 for name in depths}
    base = count(**one)
    return base + sum(
        (depth - 1) * (count(**{**one, name: 2}) - base) for name, depth in depths.items()
    )


def test_every_named_configuration_has_a_reference():
    assert sorted(REFERENCE) == model_names()


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_named_configuration_has_the_reference_parameter_count(name):
    config = load_model_config(name)
    backbone = registry.model_class(config.family, registry.backbone_architecture(config.family))
    cls, expected = REFERENCE[name]
    assert backbone.__name__ == cls
    assert depth_fields(config)
    assert count_parameters(config, backbone) == expected


def test_the_count_follows_the_depth():
    """The extrapolation is exact: a 3-layer BERT counted from 1 and 2 layers equals its
    full build (and differs from the 2-layer one)."""
    config = dataclasses.replace(load_model_config("bert_tiny_l2_h128"), num_layers=3)
    backbone = registry.model_class("bert", "backbone")
    with zero_initialized():
        full = backbone(config).count_params()
    assert count_parameters(config, backbone) == full == 4_385_920 + 198_272
