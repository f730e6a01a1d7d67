"""Writes BERT pre-training TFRecords (sentence pairs + masks) from raw text.

Input: one sentence per line, a blank line between documents.

    python create_pretraining_data.py --input_file=corpus.txt \
        --vocab_dir=path/to/checkpoint --output_dir=data/pretrain --seq_length=128
"""
import glob
import os

import numpy as np
from absl import app, flags

import tfmodels  # noqa: F401  (selects Keras 2 before TensorFlow loads)
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.errors import DataError
from tfmodels.pretraining.records import encode_example, shuffled_instances, write_shards
from tfmodels.pretraining.sentence_pairs import read_documents
from tfmodels.training import flags as common

flags.DEFINE_string("input_file", None, "Comma-separated text files or globs.")
flags.DEFINE_string("vocab_dir", None, "Checkpoint dir (or packaged name) with vocab.txt.")
flags.DEFINE_string("output_dir", None, "Where the .tfrecord shards go.")
flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per example.")
flags.DEFINE_float("mask_rate", 0.15, "Fraction of tokens to predict.")
flags.DEFINE_enum("masking", "static", ["static", "dynamic"],
                  "static: masks written into the records; dynamic: drawn by run_pretraining.")
flags.DEFINE_bool("whole_word_masking", False, "Mask all WordPieces of a word together.")
flags.DEFINE_integer("dupe_factor", 5, "Passes over the corpus (different masks each).")
flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter target length.")
flags.DEFINE_integer("num_shards", 2, "Output files.")
flags.DEFINE_integer("random_seed", 12345, "Seed for pairing and masking.")
FLAGS = flags.FLAGS


def main(_):
    def run():
        paths = sorted(p for pattern in (FLAGS.input_file or "").split(",") if pattern
                       for p in (glob.glob(pattern) or [pattern]))
        if not paths:
            raise DataError("--input_file: no input files given")
        if not FLAGS.output_dir:
            raise DataError("--output_dir is required")
        pre = tfmodels.preprocessor_from_pretrained(
            resolve_checkpoint(FLAGS.vocab_dir or "", flag="--vocab_dir"), FLAGS.seq_length)
        vocab = pre.tokenizer.vocab
        token_ids = {t: i for i, t in enumerate(vocab)}

        def tokenize(lines):
            out = []
            for start in range(0, len(lines), 512):
                ids = pre.tokenizer(lines[start:start + 512]).to_list()
                out.extend([vocab[i] for i in row] for row in ids)
            return out

        rng = np.random.default_rng(FLAGS.random_seed)
        documents = read_documents(paths, tokenize)
        instances = shuffled_instances(documents, FLAGS.seq_length, FLAGS.dupe_factor, rng,
                                       FLAGS.short_seq_prob)
        examples = (encode_example(a, b, random_next, vocab, token_ids, FLAGS.seq_length, rng,
                                   static_masking=FLAGS.masking == "static",
                                   max_predictions=FLAGS.max_predictions_per_seq,
                                   mask_rate=FLAGS.mask_rate, whole_word=FLAGS.whole_word_masking)
                    for a, b, random_next in instances)
        os.makedirs(FLAGS.output_dir, exist_ok=True)
        shards, count = write_shards(examples, os.path.join(FLAGS.output_dir, "pretrain"),
                                     FLAGS.num_shards)
        print(f"wrote {count} examples from {len(documents)} documents to {len(shards)} shards "
              f"in {FLAGS.output_dir} ({FLAGS.masking} masking)")
    common.run_main(run)


if __name__ == "__main__":
    app.run(main)
