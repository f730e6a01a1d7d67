"""HF ``...ForQuestionAnswering`` checkpoints (BERT, RoBERTa) load by ``architectures`` and
match the reference start/end logits; saving is lossless; every family has the head."""
import numpy as np
import pytest

import tfmodels
from tfmodels.models import bert, registry, roberta
from tests.conftest import fixture_path, max_abs_diff
from tests.convert.parity import (assert_save_pretrained_is_lossless, loaded, reference, run)

FIXTURES = {"bert_tiny_qa": bert.BertForQuestionAnswering,
            "roberta_tiny_qa": roberta.RobertaForQuestionAnswering}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_start_and_end_logits_match_reference(name):
    ref = reference(name)
    model = loaded(name)
    assert type(model) is FIXTURES[name]
    assert model.count_params() == ref["num_parameters"]  # no pooler, as the reference
    out = run(model, ref)
    real = ref["input_mask"].astype(bool)
    assert not real.all()
    for key in ("start_logits", "end_logits"):
        assert out[key].shape == ref[key].shape
        # At real tokens only: RoBERTa's reference gives padding its own position.
        assert max_abs_diff(np.asarray(out[key])[real], ref[key][real]) <= 1e-4, key


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_save_pretrained_is_lossless(name, tmp_path):
    assert_save_pretrained_is_lossless(loaded(name), name, tmp_path)
    out, ref = run(tfmodels.from_pretrained(str(tmp_path)), reference(name)), reference(name)
    real = ref["input_mask"].astype(bool)
    for key in ("start_logits", "end_logits"):
        assert max_abs_diff(np.asarray(out[key])[real], ref[key][real]) <= 1e-4, key


def test_a_backbone_fine_tunes_with_a_fresh_span_head():
    model = tfmodels.from_pretrained(fixture_path("bert_tiny_model"),
                                     architecture="question_answering")
    ref = reference("bert_tiny_model")
    out = model({k: ref[k] for k in ("input_ids", "input_mask", "segment_ids")})
    assert out["start_logits"].shape == out["end_logits"].shape == ref["input_ids"].shape
    got = model.encoder({k: ref[k] for k in ("input_ids", "input_mask", "segment_ids")})
    assert np.max(np.abs(got["sequence_output"] - ref["sequence_output"])) <= 1e-4


# Every BERT-style encoder family. GPT-2 (decoder-only), the encoder-decoders
# (Transformer, T5, BART) and XLNet (whose HF QA head is a beam-search head) have none.
ENCODER_FAMILIES = sorted(set(registry.FAMILIES) - {"gpt2", "xlnet", "transformer", "t5",
                                                    "bart"})


@pytest.mark.parametrize("family", ENCODER_FAMILIES)
def test_every_family_has_a_question_answering_model(family):
    """The class is registered by task and by HF architecture name, and its converter
    maps ``qa_outputs``."""
    module = registry.family_module(family)
    cls = module.TASKS["question_answering"]
    assert module.TASK_MODELS[cls.architecture] is cls
    assert cls.architecture.endswith("ForQuestionAnswering")
    model = cls(module.Config(vocab_size=40, hidden_size=16, num_layers=1, num_heads=2,
                              intermediate_size=32, max_position_embeddings=34,
                              **({"intra_bottleneck_size": 8, "embedding_size": 8}
                                 if family == "mobilebert" else {})))
    heads = registry.converter_module(family).head_weights(model)
    assert sorted(heads) == ["qa_outputs.bias", "qa_outputs.weight"]
    assert tuple(heads["qa_outputs.weight"][0].shape) == (16, 2)
