"""Writes the MobileBERT parity fixtures tests/fixtures/mobilebert_tiny_* (dev-only).

Needs PyTorch + transformers (never imported by the tests):
    /work/fixenv/bin/python tools/make_fixtures_mobilebert.py

Each directory holds a random HF checkpoint (config.json + model.safetensors)
and reference.npz: the inputs (padded rows, two segments, from
``make_fixtures.tiny_inputs``) and the reference implementation's outputs.
Biases and norm parameters get noise, and the classifier's logits are spread
(tools/make_fixtures.py ``randomize``), so that a mapping slip cannot hide.
The variants cover the code paths of the architecture:

- model:       MobileBERT as released (NoNorm, shared query-key bottleneck,
               stacked FFNs, trigram input, tanh pooler); ``encoder_outputs`` too
- pretraining: the same with MLM (widened table) and NSP heads
- masked_lm:   no pooler; no trigram; bottleneck feeds query, key and value
- classifier:  [CLS] vector without pooler Dense (classifier_activation=False)
- ibbert:      the teacher's block: LayerNorm (a large eps, so that the HF
               port's default-eps norms are told apart), GELU, one FFN, q/k/v
               from the block input. HF can only run that path with the intra
               width equal to the block width (see tfmodels/configs/models/ibbert_teacher.yaml).
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, randomize, tiny_inputs, torch_inputs  # noqa: E402

TINY = dict(vocab_size=99, hidden_size=32, embedding_size=16, intra_bottleneck_size=16,
            num_hidden_layers=2, num_attention_heads=4, intermediate_size=24,
            num_feedforward_networks=3, max_position_embeddings=64, type_vocab_size=2)

# Two layers in the plain model (layer indices in names); one elsewhere, to keep tests quick.
VARIANTS = {
    "mobilebert_tiny_model": ("MobileBertModel", {}),
    "mobilebert_tiny_pretraining": ("MobileBertForPreTraining", dict(num_hidden_layers=1)),
    "mobilebert_tiny_masked_lm": ("MobileBertForMaskedLM",
                                  dict(num_hidden_layers=1, trigram_input=False,
                                       use_bottleneck_attention=True, hidden_act="gelu_new")),
    "mobilebert_tiny_classifier": ("MobileBertForSequenceClassification",
                                   dict(num_hidden_layers=1, num_labels=3,
                                        classifier_activation=False)),
    "mobilebert_tiny_ibbert": ("MobileBertModel",
                               dict(num_hidden_layers=1, intra_bottleneck_size=32,
                                    intermediate_size=64,
                                    num_feedforward_networks=1, key_query_shared_bottleneck=False,
                                    normalization_type="layer_norm", hidden_act="gelu",
                                    layer_norm_eps=1e-2)),
}


def make(name, architecture, overrides):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.MobileBertConfig(**{**TINY, **overrides},
                                           architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    ids, mask, types = tiny_inputs(np.random.default_rng(0))
    kwargs = torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types)
    randomize(model, kwargs)
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    assert len(out.hidden_states) == config.num_hidden_layers + 1  # embeddings first
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types}
    if architecture == "MobileBertModel":
        ref["sequence_output"] = out.last_hidden_state.numpy()
        ref["pooled_output"] = out.pooler_output.numpy()
        ref["encoder_outputs"] = np.stack([h.numpy() for h in out.hidden_states[1:]])
    elif architecture == "MobileBertForPreTraining":
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["mlm_logits"] = out.prediction_logits.numpy()
        ref["sentence_logits"] = out.seq_relationship_logits.numpy()
    elif architecture == "MobileBertForMaskedLM":
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["mlm_logits"] = out.logits.numpy()
    else:
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["logits"] = out.logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir)


if __name__ == "__main__":
    for fixture, (arch, extra) in VARIANTS.items():
        make(fixture, arch, extra)
