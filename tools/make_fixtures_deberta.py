"""Writes the DeBERTa-v2/v3 fixtures under tests/fixtures/deberta_* (dev-only; not imported
by tests).

Needs PyTorch + transformers 5.x (+ sentencepiece for the tokenizer fixture):
    /work/fixenv/bin/python tools/make_fixtures_deberta.py            # checkpoints
    /work/fixenv/bin/python tools/make_fixtures_deberta.py --tokenizer
    /work/fixenv/bin/python tools/make_fixtures_deberta.py --count    # deberta_v3_base count

Each checkpoint directory holds a random HF checkpoint (config.json +
model.safetensors, non-zero biases) and reference.npz: inputs of length 16 with
padded rows, and the reference outputs. Relative attention uses 4 log buckets
each side (``position_buckets`` 8) so that positions 4..15 apart fall in log buckets.
"""
import argparse
import io
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import FIXTURES, randomize, tiny_inputs, torch_inputs  # noqa: E402

LENGTH = 16
# DeBERTaV3 layout (microsoft/deberta-v3-*): relative attention only, log buckets,
# shared key, LayerNorm on the relative embeddings, no token types.
V3 = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
          intermediate_size=37, max_position_embeddings=64, type_vocab_size=0,
          relative_attention=True, position_buckets=8, max_relative_positions=64,
          norm_rel_ebd="layer_norm", share_att_key=True, pos_att_type=["p2c", "c2p"],
          position_biased_input=False, hidden_act="gelu", layer_norm_eps=1e-7)
# DeBERTa-v2 style without buckets: separate position projections, absolute positions
# in the input, token types, relative distances clamped at 6.
V2 = dict(V3, position_buckets=-1, max_relative_positions=6, norm_rel_ebd="none",
          share_att_key=False, pos_att_type=["c2p", "p2c"], position_biased_input=True,
          type_vocab_size=2, hidden_act="gelu_new")


def make(name, architecture, **config):
    import torch
    import transformers

    torch.manual_seed(0)
    cfg = transformers.DebertaV2Config(**config, architectures=[architecture])
    model = getattr(transformers, architecture)(cfg).eval()
    ids, mask, types = tiny_inputs(np.random.default_rng(0), length=LENGTH)
    kwargs = torch_inputs(input_ids=ids, attention_mask=mask, token_type_ids=types)
    randomize(model, kwargs)
    out_dir = os.path.join(FIXTURES, name)
    model.save_pretrained(out_dir, safe_serialization=True)
    with torch.no_grad():
        out = model(**kwargs, output_hidden_states=True)
    ref = {"input_ids": ids, "input_mask": mask, "segment_ids": types}
    hidden = out.hidden_states
    if architecture == "DebertaV2Model":
        ref["sequence_output"] = out.last_hidden_state.numpy()
        ref["encoder_outputs"] = np.stack([h.numpy() for h in hidden[1:]])
    elif architecture == "DebertaV2ForMaskedLM":
        ref["sequence_output"] = hidden[-1].numpy()
        ref["mlm_logits"] = out.logits.numpy()
    else:
        ref["sequence_output"] = hidden[-1].numpy()
        ref["logits"] = out.logits.numpy()
    np.savez_compressed(os.path.join(out_dir, "reference.npz"), **ref)
    print("wrote", out_dir, sorted(os.listdir(out_dir)))


def relative_positions():
    """HF's log-bucket relative positions for a few (buckets, max distance) settings."""
    import torch
    from transformers.models.deberta_v2 import modeling_deberta_v2 as m

    ref = {}
    for buckets, max_position in ((8, 64), (256, 512), (16, 40)):
        length = 300 if buckets == 256 else 48
        x = torch.zeros(1, length, 1)
        ref[f"b{buckets}_m{max_position}"] = m.build_relative_position(
            x, x, bucket_size=buckets, max_position=max_position)[0].numpy().astype(np.int32)
    np.savez_compressed(os.path.join(FIXTURES, "deberta_relative_positions.npz"), **ref)
    print("wrote deberta_relative_positions.npz")


def count():
    """Parameters of HF DebertaV2Model for the deberta_v3_base configuration."""
    import transformers

    cfg = transformers.DebertaV2Config(
        vocab_size=128100, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
        intermediate_size=3072, max_position_embeddings=512, relative_attention=True,
        position_buckets=256, norm_rel_ebd="layer_norm", share_att_key=True,
        pos_att_type=["p2c", "c2p"], position_biased_input=False, type_vocab_size=0,
        max_relative_positions=-1, layer_norm_eps=1e-7)
    print("DebertaV2Model(deberta_v3_base) parameters:",
          transformers.DebertaV2Model(cfg).num_parameters())


TEXTS = ["Hello world, this is DeBERTa.", "A fortune a day keeps the doctor away!",
         "Numbers 1,000 and 3,14; MiXeD case", "  spaces   inside  "]


def make_tokenizer():
    """A tiny SentencePiece model with DeBERTaV3's special pieces ([PAD]=0, [CLS]=1,
    [SEP]=2, [UNK]=3) and the ids the reference DebertaV2Tokenizer gives for some texts."""
    import sentencepiece as spm
    import transformers

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from make_fixtures_albert import fortune_texts

    out_dir = os.path.join(FIXTURES, "deberta_spm")
    os.makedirs(out_dir, exist_ok=True)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(fortune_texts()), model_writer=model, vocab_size=1000,
        model_type="unigram", pad_id=0, bos_id=1, eos_id=2, unk_id=3, pad_piece="[PAD]",
        bos_piece="[CLS]", eos_piece="[SEP]", unk_piece="[UNK]",
        character_coverage=0.99995, shuffle_input_sentence=False, num_threads=1,
        split_by_whitespace=True, minloglevel=2)
    path = os.path.join(out_dir, "spm.model")
    with open(path, "wb") as f:
        f.write(model.getvalue())
    # transformers 5.x builds the tokenizer from the pieces and scores (its spm.model
    # converter needs protobuf, which the fixture environment lacks).
    proc = spm.SentencePieceProcessor(model_file=path)
    vocab = [(proc.id_to_piece(i), proc.get_score(i)) for i in range(proc.get_piece_size())]
    tok = transformers.DebertaV2Tokenizer(vocab=vocab, unk_id=proc.unk_id())
    rows = tok(TEXTS, max_length=LENGTH, truncation=True, padding="max_length")
    pair = tok(TEXTS[0], TEXTS[1], max_length=LENGTH, truncation="longest_first",
               padding="max_length")
    reference = {"texts": TEXTS, "input_ids": rows["input_ids"],
                 "input_mask": rows["attention_mask"],
                 "pair_input_ids": pair["input_ids"], "pair_segment_ids": pair["token_type_ids"],
                 "special": {t: tok.convert_tokens_to_ids(t)
                             for t in ("[PAD]", "[CLS]", "[SEP]", "[UNK]")}}
    with open(os.path.join(out_dir, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(reference, f, indent=1)
    print("wrote", out_dir, reference["special"])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokenizer", action="store_true")
    parser.add_argument("--count", action="store_true")
    args = parser.parse_args()
    if args.count:
        count()
    elif args.tokenizer:
        make_tokenizer()
    else:
        make("deberta_tiny_model", "DebertaV2Model", **V3)
        make("deberta_tiny_v2_model", "DebertaV2Model", **V2)
        make("deberta_tiny_masked_lm", "DebertaV2ForMaskedLM", **V3)  # legacy head (cls.*)
        make("deberta_tiny_masked_lm_v3", "DebertaV2ForMaskedLM", legacy=False, **V3)
        make("deberta_tiny_classifier", "DebertaV2ForSequenceClassification", num_labels=3,
             pooler_hidden_act="tanh", **V3)
        relative_positions()
