"""...ForTokenClassification HF checkpoints of every encoder family load by
``architectures``, match the reference ``sequence_output`` and logits [B, S, C] to 1e-4,
keep their label names, and save back losslessly.

Fixtures: tools/make_fixtures.py (the *_tagger rows) (each family's tiny configuration and inputs,
logits spread to ~5; ELECTRA with E != H, whose token head is a plain ``classifier``
Dense unlike its sequence classifier's ``classifier.out_proj``). Compared at every
position, but RoBERTa and DeBERTa at real tokens (tests/convert/parity.py ``OWN_PADDING``).
"""

import pytest

from tests.convert.parity import (
    OWN_PADDING,
    assert_outputs_match_reference,
    assert_reloads_with_the_reference_outputs,
    assert_save_pretrained_is_lossless,
    families_with,
    loaded,
    model_types,
    reference,
)

FIXTURES = {
    "bert_tiny_tagger": "BertForTokenClassification",
    "roberta_tiny_tagger": "RobertaForTokenClassification",
    "albert_tiny_tagger": "AlbertForTokenClassification",
    "electra_tiny_tagger": "ElectraForTokenClassification",
    "distilbert_tiny_tagger": "DistilBertForTokenClassification",
    "mobilebert_tiny_tagger": "MobileBertForTokenClassification",
    "deberta_tiny_tagger": "DebertaV2ForTokenClassification",
}
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


@pytest.mark.parametrize("name", FIXTURES)
def test_logits_match_reference_and_save_pretrained_is_lossless(name, tmp_path):
    everywhere = not name.startswith(OWN_PADDING)
    ref = reference(name)
    assert ref["logits"].shape == ref["input_ids"].shape + (len(LABELS),)
    compared = assert_outputs_match_reference(
        name, FIXTURES[name], skip=("num_parameters",), everywhere=everywhere, from_encoder=True
    )
    assert sorted(compared) == ["logits", "sequence_output"]
    model = loaded(name)
    assert model.count_params() == ref["num_parameters"]
    assert model.label_names == LABELS
    assert not hasattr(model, "classifier_head")  # task distillation must not take it
    config, _ = assert_save_pretrained_is_lossless(model, name, tmp_path)
    assert config["id2label"] == {str(i): label for i, label in enumerate(LABELS)}
    assert_reloads_with_the_reference_outputs(tmp_path, name, ["logits"], everywhere=everywhere)


def test_every_family_with_a_token_head_has_a_fixture():
    assert model_types(FIXTURES) == families_with("token_classification")
