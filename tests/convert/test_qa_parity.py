"""HF ``...ForQuestionAnswering`` checkpoints of every encoder family load by
``architectures``, match the reference ``sequence_output`` and start/end logits, and save
back losslessly.

Fixtures: the *_qa rows of tools/make_fixtures.py (each family's tiny configuration and
inputs, logits spread to ~5). Compared at every position, but RoBERTa and DeBERTa at real tokens
(tests/convert/parity.py ``OWN_PADDING``).
"""

import numpy as np
import pytest

import tfmodels
from tests.conftest import fixture_path
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
    "bert_tiny_qa": "BertForQuestionAnswering",
    "roberta_tiny_qa": "RobertaForQuestionAnswering",
    "albert_tiny_qa": "AlbertForQuestionAnswering",
    "electra_tiny_qa": "ElectraForQuestionAnswering",
    "distilbert_tiny_qa": "DistilBertForQuestionAnswering",
    "mobilebert_tiny_qa": "MobileBertForQuestionAnswering",
    "deberta_tiny_qa": "DebertaV2ForQuestionAnswering",
}
LOGITS = ("start_logits", "end_logits")


@pytest.mark.parametrize("name", FIXTURES)
def test_logits_match_reference_and_save_pretrained_is_lossless(name, tmp_path):
    everywhere = not name.startswith(OWN_PADDING)
    ref = reference(name)
    assert not ref["input_mask"].all()  # padded rows
    compared = assert_outputs_match_reference(
        name, FIXTURES[name], skip=("num_parameters",), everywhere=everywhere, from_encoder=True
    )
    assert sorted(compared) == ["end_logits", "sequence_output", "start_logits"]
    model = loaded(name)
    assert model.count_params() == ref["num_parameters"]  # no pooler, as the reference
    assert_save_pretrained_is_lossless(model, name, tmp_path)
    assert_reloads_with_the_reference_outputs(tmp_path, name, LOGITS, everywhere=everywhere)


def test_every_family_with_a_span_head_has_a_fixture():
    """GPT-2 (decoder-only), the encoder-decoders and XLNet (whose HF QA head is a
    beam-search head) have none."""
    assert (
        model_types(FIXTURES)
        == families_with("question_answering")
        == {"bert", "roberta", "albert", "electra", "distilbert", "mobilebert", "deberta-v2"}
    )


def test_a_backbone_fine_tunes_with_a_fresh_span_head():
    model = tfmodels.from_pretrained(
        fixture_path("bert_tiny_model"), architecture="question_answering"
    )
    ref = reference("bert_tiny_model")
    out = model({k: ref[k] for k in ("input_ids", "input_mask", "segment_ids")})
    assert out["start_logits"].shape == out["end_logits"].shape == ref["input_ids"].shape
    got = model.encoder({k: ref[k] for k in ("input_ids", "input_mask", "segment_ids")})
    assert np.max(np.abs(got["sequence_output"] - ref["sequence_output"])) <= 1e-4
