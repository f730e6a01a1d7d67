"""Writes the BART fixtures under tests/fixtures/bart_tiny_* (dev-only; never imported by tests).

Needs PyTorch + transformers (the fixture environment):
    /work/fixenv/bin/python tools/make_fixtures_bart.py

- ``bart_tiny_model`` (BartModel, scale_embedding on) and ``bart_tiny_lm``
  (BartForConditionalGeneration, scale_embedding off): tiny random checkpoints with
  encoder and decoder of different depth, heads and widths, non-zero biases,
  LayerNorm parameters and ``final_logits_bias``; reference.npz holds right-padded
  inputs (pad id 1, mask 0) in one encoder row and one decoder row, and HF's outputs.
- ``bart_tiny_generation``: a BartForConditionalGeneration whose weights are scaled
  up x4 and its positions x16 (with std 0.02 weights, or x8 alone, greedy decoding
  of a random BART falls into one repeated token within a step or two; larger
  positions make each step differ), encoder inputs of different lengths, and HF's
  greedy ``generate`` of 20 new tokens with every forcing/stopping rule off; the
  decoder start token is dropped from the saved ids.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import save_fixture  # noqa: E402

TINY = dict(vocab_size=99, d_model=32, encoder_layers=2, decoder_layers=1,
            encoder_attention_heads=4, decoder_attention_heads=2, encoder_ffn_dim=37,
            decoder_ffn_dim=41, max_position_embeddings=64, forced_eos_token_id=None,
            forced_bos_token_id=None)
PAD = 1
PROMPTS = [[0, 5, 17, 23, 42, 8, 61, 2], [0, 77, 3, 9, 2], [0, 12, 50, 33, 4, 70, 2]]


def _model(architecture, scale_embedding, weight_scale=1.0, position_scale=1.0):
    import torch
    import transformers

    torch.manual_seed(0)
    config = transformers.BartConfig(**TINY, scale_embedding=scale_embedding,
                                     architectures=[architecture])
    model = getattr(transformers, architecture)(config).eval()
    with torch.no_grad():  # non-zero biases and LayerNorm parameters: no mapping slip hides
        for name, param in model.named_parameters():
            if param.dim() > 1:
                param.mul_(weight_scale * (position_scale if "embed_positions" in name else 1.0))
            if param.dim() == 1:
                param.add_(0.1 * torch.randn_like(param))
        if hasattr(model, "final_logits_bias"):
            model.final_logits_bias.copy_(0.5 * torch.randn_like(model.final_logits_bias))
    return model


def _padded(rng, batch, length, padded_row, real):
    ids = rng.integers(3, TINY["vocab_size"], size=(batch, length))
    mask = np.ones_like(ids)
    mask[padded_row, real:] = 0
    ids[mask == 0] = PAD
    return ids.astype(np.int32), mask.astype(np.int32)


def make_reference(name, architecture, scale_embedding):
    import torch

    model = _model(architecture, scale_embedding)
    out_dir = save_fixture(model, name)
    rng = np.random.default_rng(0)
    ids, mask = _padded(rng, 3, 12, padded_row=1, real=7)
    dec_ids, dec_mask = _padded(rng, 3, 9, padded_row=2, real=5)
    dec_ids[:, 0] = 2  # decoder_start_token_id, as shift_tokens_right writes it
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids, dtype=torch.long),
                    attention_mask=torch.tensor(mask, dtype=torch.long),
                    decoder_input_ids=torch.tensor(dec_ids, dtype=torch.long),
                    decoder_attention_mask=torch.tensor(dec_mask, dtype=torch.long))
    ref = {"input_ids": ids, "input_mask": mask, "decoder_input_ids": dec_ids,
           "decoder_input_mask": dec_mask, "encoder_output": out.encoder_last_hidden_state.numpy(),
           "num_parameters": np.array(model.num_parameters())}
    if architecture == "BartForConditionalGeneration":
        ref["logits"] = out.logits.numpy()
        with torch.no_grad():  # sequence_output: the decoder's last hidden state
            ref["sequence_output"] = model.model(
                input_ids=torch.tensor(ids, dtype=torch.long),
                attention_mask=torch.tensor(mask, dtype=torch.long),
                decoder_input_ids=torch.tensor(dec_ids, dtype=torch.long),
                decoder_attention_mask=torch.tensor(dec_mask, dtype=torch.long),
            ).last_hidden_state.numpy()
    else:
        ref["sequence_output"] = out.last_hidden_state.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir, sorted(ref))


def make_generation():
    import torch

    model = _model("BartForConditionalGeneration", scale_embedding=False, weight_scale=4.0,
                   position_scale=4.0)
    out_dir = save_fixture(model, "bart_tiny_generation")
    width = max(map(len, PROMPTS))
    ids = np.full([len(PROMPTS), width], PAD, np.int64)
    mask = np.zeros_like(ids)
    for row, prompt in enumerate(PROMPTS):  # encoder inputs: right-padded
        ids[row, :len(prompt)] = prompt
        mask[row, :len(prompt)] = 1
    with torch.no_grad():
        greedy = model.generate(torch.tensor(ids), attention_mask=torch.tensor(mask),
                                do_sample=False, num_beams=1, max_new_tokens=20,
                                min_new_tokens=0, min_length=0, eos_token_id=None,
                                pad_token_id=PAD, decoder_start_token_id=2,
                                forced_bos_token_id=None, forced_eos_token_id=None,
                                no_repeat_ngram_size=0, repetition_penalty=1.0)
    greedy = greedy.numpy()
    assert (greedy[:, 0] == 2).all() and greedy.shape[1] == 21, greedy
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), input_ids=ids.astype(np.int32),
                        input_mask=mask.astype(np.int32), greedy_ids=greedy[:, 1:])
    print("wrote", out_dir, greedy[:, 1:])


if __name__ == "__main__":
    make_reference("bart_tiny_model", "BartModel", scale_embedding=True)
    make_reference("bart_tiny_lm", "BartForConditionalGeneration", scale_embedding=False)
    make_generation()
