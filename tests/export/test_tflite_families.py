"""Every family's classifier converts to TFLite with builtin ops only (float and int8).

Float parity with Keras is checked on the committed parity fixtures' inputs (≤1e-3 on
logits); for int8 the predicted labels are compared and the agreement printed
(a tiny random model's logits are close together, so agreement is reported, not
required to be perfect).
"""
import numpy as np
import pytest

import tfmodels
from tests.conftest import fixture_path
from tests.export.test_tflite import BUILTIN, run
from tfmodels.export.tflite import op_names

FAMILIES = ["bert", "roberta", "albert", "electra", "distilbert", "mobilebert", "deberta"]


@pytest.mark.parametrize("family", FAMILIES)
def test_family_classifier_to_tflite(family, tmp_path):
    path = fixture_path(f"{family}_tiny_classifier")
    model = tfmodels.from_pretrained(path)
    reference = np.load(fixture_path(path, "reference.npz"))
    features = {k: reference[k] for k in ("input_ids", "input_mask", "segment_ids")}
    seq_length = features["input_ids"].shape[1]
    expected = model(features)["logits"].numpy()

    float_path = tfmodels.export.tflite(model, str(tmp_path / "float.tflite"),
                                        seq_length=seq_length)
    assert set(op_names(float_path)) <= BUILTIN, family
    np.testing.assert_allclose(run(float_path, features), expected, atol=1e-3)

    int8_path = tfmodels.export.tflite(model, str(tmp_path / "int8.tflite"),
                                       seq_length=seq_length, quantize="int8",
                                       representative_data=features)
    assert set(op_names(int8_path)) <= BUILTIN, family
    agreement = np.mean(run(int8_path, features).argmax(-1) == expected.argmax(-1))
    print(f"{family}: int8 label agreement {agreement:.2f}")
    assert np.isfinite(run(int8_path, features)).all()
