"""...ForTokenClassification HF checkpoints load by ``architectures``, match the reference
logits [B, S, C] to 1e-4, keep their label names, and save back losslessly.

Fixtures: tools/make_fixtures_tagger.py (BERT, and ELECTRA with E != H, whose token
head is a plain ``classifier`` Dense unlike its sequence classifier's ``classifier.out_proj``).
"""
import numpy as np
import pytest

from tests.convert.parity import (assert_outputs_match_reference,
                                  assert_reloads_with_the_reference_outputs,
                                  assert_save_pretrained_is_lossless, loaded, reference)

FIXTURES = {"bert_tiny_tagger": "BertForTokenClassification",
            "electra_tiny_tagger": "ElectraForTokenClassification"}
LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]


@pytest.mark.parametrize("name", FIXTURES)
def test_logits_match_reference_and_save_pretrained_is_lossless(name, tmp_path):
    compared = assert_outputs_match_reference(name, FIXTURES[name], everywhere=True,
                                              from_encoder=True)
    assert "logits" in compared
    assert reference(name)["logits"].shape == (3, 12, len(LABELS))
    model = loaded(name)
    assert model.label_names == LABELS
    assert not hasattr(model, "classifier_head")  # task distillation must not take it
    config, _ = assert_save_pretrained_is_lossless(model, name, tmp_path)
    assert config["id2label"] == {str(i): label for i, label in enumerate(LABELS)}
    assert_reloads_with_the_reference_outputs(tmp_path, name, ["logits"], everywhere=True)


TINY = {"vocab_size": 50, "hidden_size": 16, "num_layers": 1, "num_heads": 2,
        "intermediate_size": 32, "max_position_embeddings": 34}
OTHERS = {"roberta": ({}, "RobertaForTokenClassification"),
          "albert": ({"embedding_size": 8}, "AlbertForTokenClassification"),
          "distilbert": ({}, "DistilBertForTokenClassification"),
          "mobilebert": ({"embedding_size": 8, "intra_bottleneck_size": 8,
                          "num_feedforward_networks": 1}, "MobileBertForTokenClassification"),
          "deberta-v2": ({}, "DebertaV2ForTokenClassification")}


@pytest.mark.parametrize("family", OTHERS)
def test_every_family_saves_and_loads_its_token_classifier(family, tmp_path):
    # No reference fixture for these: the HF names of the head and the round trip by
    # ``architectures`` (the backbones' own names are checked by their parity tests).
    from safetensors.numpy import load_file

    import tfmodels
    from tfmodels.convert.pretrained import build_model
    from tfmodels.models import registry

    extra, architecture = OTHERS[family]
    config = registry.family_module(family).Config.from_dict({**TINY, **extra})
    model = build_model(family, "token_classification", config, {"num_labels": 5}, "test")
    assert model.architecture == architecture
    features = {"input_ids": np.array([[1, 7, 9, 2, 0]], np.int32),
                "input_mask": np.array([[1, 1, 1, 1, 0]], np.int32),
                "segment_ids": np.zeros((1, 5), np.int32)}
    logits = model(features)["logits"].numpy()
    assert logits.shape == (1, 5, 5)
    tfmodels.save_pretrained(model, str(tmp_path))
    names = set(load_file(str(tmp_path / "model.safetensors")))
    assert {"classifier.weight", "classifier.bias"} <= names
    assert not [n for n in names if "pooler" in n or n.startswith("classifier.")
                and n not in ("classifier.weight", "classifier.bias")]
    prefix = registry.converter_module(family).PREFIX + "."
    assert all(n.startswith(prefix) for n in names - {"classifier.weight", "classifier.bias"})
    reloaded = tfmodels.from_pretrained(str(tmp_path))
    assert type(reloaded) is type(model)
    np.testing.assert_array_equal(reloaded(features)["logits"].numpy(), logits)
