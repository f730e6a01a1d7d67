"""The Transformer (Vaswani et al. 2017) family: the common checks (tests/models/harness.py).
Its generation is tested in tests/generation/, its size in test_named_configs.py."""

import numpy as np

from tests.models import harness
from tests.models.harness import Role
from tfmodels.models import transformer

TINY = transformer.Config(
    vocab_size=40,
    hidden_size=16,
    num_layers=1,
    num_heads=2,
    intermediate_size=24,
    max_position_embeddings=16,
)


def features():
    ids = np.random.default_rng(1).integers(4, 40, size=(2, 7)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 5:] = 0
    return {
        "input_ids": ids * mask,
        "input_mask": mask,
        "decoder_input_ids": np.array([[2, 5, 7, 9], [2, 11, 0, 0]], np.int32),
        "decoder_input_mask": np.array([[1, 1, 1, 1], [1, 1, 0, 0]], np.int32),
    }


ENCODER, DECODER = (2, 7, 16), (2, 4, 16)
SPEC = harness.FamilySpec(
    "transformer",
    TINY,
    features(),
    {
        "backbone": Role(
            transformer.TransformerModel,
            "TransformerModel",
            {"encoder_output": ENCODER, "sequence_output": DECODER},
        ),
        "seq2seq_lm": Role(
            transformer.TransformerForConditionalGeneration,
            "TransformerForConditionalGeneration",
            {"encoder_output": ENCODER, "sequence_output": DECODER, "logits": (2, 4, 40)},
        ),
    },
)


models = harness.models_fixture(SPEC)
test_common_checks = harness.common_checks(SPEC)
