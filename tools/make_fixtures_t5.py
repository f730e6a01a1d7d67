"""Writes the T5 fixtures under tests/fixtures/t5_* (dev-only; never imported by tests).

Needs PyTorch + transformers + sentencepiece (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_t5.py

- ``t5_tiny_model`` (T5Model), ``t5_tiny_lm`` (T5ForConditionalGeneration, tied head)
  and ``t5_tiny_lm_untied`` (``tie_word_embeddings=False``): tiny random checkpoints
  with every weight non-zero (RMS scales perturbed) and reference.npz: right-padded
  encoder inputs (one padded row) and decoder inputs (another padded row) and HF's
  ``encoder_output`` (encoder last hidden state), ``sequence_output`` (decoder last
  hidden state) and ``logits``.
- ``t5_tiny_generation``: the tied LM with its block and head weights scaled up x8
  (not the token table: with it the start token dominates the residual stream and
  greedy decoding emits 0 forever), encoder inputs of different lengths and HF
  greedy ``generate`` of 20 new tokens, without the leading decoder start token.
- ``t5_relative_buckets.npz``: HF ``_relative_position_bucket`` of distances
  -300..300 for (32, 128) and (8, 20) buckets, both directions.
- ``t5_spiece``: a tiny SentencePiece model laid out like T5's (pad 0, </s> 1, unk 2,
  no bos), ``transformers.T5Tokenizer`` ids of a few sentences (100 ``<extra_id_N>``
  at the end of the vocabulary, ``</s>`` appended).
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, save_fixture  # noqa: E402

TINY = dict(vocab_size=99, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_decoder_layers=2,
            num_heads=4, relative_attention_num_buckets=8, relative_attention_max_distance=20,
            dropout_rate=0.1, layer_norm_epsilon=1e-6, feed_forward_proj="relu",
            decoder_start_token_id=0, pad_token_id=0, eos_token_id=1)
SOURCES = [[5, 17, 23, 42, 8, 61, 30, 2, 44, 1], [77, 3, 9, 1], [12, 50, 33, 4, 19, 7, 1]]
SENTENCES = ["Hello world, this is T5.", "The quick brown fox jumps over the lazy dog",
             "  Mixed   CASE text with 123 numbers!", "translate English to German: a cat"]


def _random_model(architecture, tie=True, scale=1.0):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.T5Config(**TINY, tie_word_embeddings=tie,
                                   architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 1:  # RMS scales: not all ones, so a slip cannot hide
                param.add_(0.1 * torch.randn_like(param))
            elif "shared" not in name:  # the blocks outweigh the token in the residual
                param.mul_(scale)
    return model


def _padded(rows, width):
    ids = np.zeros([len(rows), width], np.int32)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = row
    return ids, (np.arange(width)[None] < np.array([len(r) for r in rows])[:, None]).astype(
        np.int32)


def _write_untied(model, out_dir):
    from safetensors.torch import save_file

    tensors = {k: v.contiguous() for k, v in model.state_dict().items()
               if not k.endswith("embed_tokens.weight")}
    save_file(tensors, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    path = os.path.join(out_dir, "config.json")
    with open(path) as f:
        config = json.load(f)
    config.pop("scale_decoder_outputs", None)
    config["tie_word_embeddings"] = False
    with open(path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def make_parity(name, architecture, tie=True):
    import torch

    model = _random_model(architecture, tie)
    if not tie:  # transformers 5 always ties lm_head to shared (and only stops rescaling)
        model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
    out_dir = save_fixture(model, name)
    if not tie:  # T5 v1.1's layout: its own lm_head.weight, config tie_word_embeddings false
        _write_untied(model, out_dir)
    rng = np.random.default_rng(0)
    ids = rng.integers(2, 99, size=(3, 10)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 6:] = 0  # padding in one encoder row
    ids[mask == 0] = 0
    decoder_ids = rng.integers(2, 99, size=(3, 7)).astype(np.int32)
    decoder_ids[:, 0] = 0  # the decoder start token
    decoder_mask = np.ones_like(decoder_ids)
    decoder_mask[2, 4:] = 0  # and in one decoder row
    decoder_ids[decoder_mask == 0] = 0
    t = lambda x: torch.tensor(x, dtype=torch.long)  # noqa: E731
    with torch.no_grad():
        out = model(input_ids=t(ids), attention_mask=t(mask), decoder_input_ids=t(decoder_ids),
                    decoder_attention_mask=t(decoder_mask), output_hidden_states=True)
    ref = {"input_ids": ids, "input_mask": mask, "decoder_input_ids": decoder_ids,
           "decoder_input_mask": decoder_mask,
           "encoder_output": out.encoder_last_hidden_state.numpy(),
           "num_parameters": np.array(model.num_parameters())}
    if architecture == "T5Model":
        ref["sequence_output"] = out.last_hidden_state.numpy()
    else:
        ref["sequence_output"] = out.decoder_hidden_states[-1].numpy()
        ref["logits"] = out.logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir)


def make_generation():
    import torch

    model = _random_model("T5ForConditionalGeneration", scale=8.0)  # shared: not scaled
    out_dir = save_fixture(model, "t5_tiny_generation")
    ids, mask = _padded(SOURCES, max(map(len, SOURCES)))
    with torch.no_grad():
        greedy = model.generate(torch.tensor(ids, dtype=torch.long),
                                attention_mask=torch.tensor(mask, dtype=torch.long),
                                do_sample=False, num_beams=1, max_new_tokens=20, min_new_tokens=0,
                                eos_token_id=None, pad_token_id=0, decoder_start_token_id=0,
                                forced_bos_token_id=None, forced_eos_token_id=None,
                                no_repeat_ngram_size=0)
    greedy = greedy.numpy()
    assert (greedy[:, 0] == 0).all() and greedy.shape[1] == 21, greedy
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), input_ids=ids, input_mask=mask,
                        greedy_ids=greedy[:, 1:])
    print("wrote", out_dir, greedy[:, 1:])


def make_buckets():
    import torch
    from transformers.models.t5.modeling_t5 import T5Attention

    relative = torch.arange(-300, 301)
    table = {"relative_position": relative.numpy()}
    for buckets, distance in ((32, 128), (8, 20)):
        for bidirectional in (True, False):
            key = f"buckets_{buckets}_{distance}_{'bi' if bidirectional else 'uni'}"
            table[key] = T5Attention._relative_position_bucket(
                relative, bidirectional=bidirectional, num_buckets=buckets,
                max_distance=distance).numpy()
    path = os.path.join(FIXTURES, "t5_relative_buckets.npz")
    np.savez_compressed(path, **table)
    print("wrote", path)


def make_spiece():
    import io

    import sentencepiece as spm
    import transformers

    text = ("The quick brown fox jumps over the lazy dog. Hello world, this is a tiny T5 "
            "tokenizer test. Translate English to German: the house is wonderful. "
            "Numbers 123 and 4567 appear here! Mixed CASE Text stays cased.\n") * 20
    out_dir = os.path.join(FIXTURES, "t5_spiece")
    os.makedirs(out_dir, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(text.splitlines()), model_writer=model, vocab_size=120,
        model_type="unigram", pad_id=0, eos_id=1, unk_id=2, bos_id=-1,
        character_coverage=1.0, hard_vocab_limit=False, normalization_rule_name="identity")
    with open(os.path.join(out_dir, "spiece.model"), "wb") as f:
        f.write(model.getvalue())
    # transformers 5 reads a .model's normalizer only with protobuf (absent here): the
    # model is trained without one (identity), so the vocabulary and scores are all of it.
    sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
    vocab = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size())]
    tokenizer = transformers.T5Tokenizer(vocab=vocab, extra_ids=100)
    for sentence in SENTENCES:  # the slow tokenizer's definition: pieces + </s>
        assert tokenizer(sentence)["input_ids"] == sp.encode(sentence) + [1], sentence
    ids = [tokenizer(s)["input_ids"] for s in SENTENCES]
    with open(os.path.join(out_dir, "reference.json"), "w") as f:
        json.dump({"sentences": SENTENCES, "ids": ids, "vocab_size": len(tokenizer),
                   "sentinel_0": tokenizer.convert_tokens_to_ids("<extra_id_0>")}, f, indent=1)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump({"model_type": "t5"}, f)
    print("wrote", out_dir, ids)


if __name__ == "__main__":
    for step in sys.argv[1:] or ["buckets", "parity", "generation", "spiece"]:
        if step == "parity":
            make_parity("t5_tiny_model", "T5Model")
            make_parity("t5_tiny_lm", "T5ForConditionalGeneration")
            make_parity("t5_tiny_lm_untied", "T5ForConditionalGeneration", tie=False)
        else:
            globals()["make_" + step]()
