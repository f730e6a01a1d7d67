r"""Writes pre-training TFRecords for an objective (BERT mlm_nsp, RoBERTa mlm, ALBERT
mlm_sop, ELECTRA rtd) from raw text, with the checkpoint's own tokenizer.

Input: one sentence per line, a blank line between documents.

    python create_pretraining_data.py --input_file=corpus.txt \
        --vocab_dir=path/to/checkpoint --output_dir=data/pretrain --seq_length=128 \
        [--objective=mlm_sop]
"""

import glob

from absl import flags

from tfmodels.cli import run_script
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.errors import DataError
from tfmodels.pretraining import registry
from tfmodels.pretraining.records import RecordOptions, create_records
from tfmodels.strict_config import check_flags

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("input_file", None, "Comma-separated text files or globs.")
    flags.DEFINE_string(
        "vocab_dir",
        None,
        "Checkpoint dir (or packaged name) with the tokenizer "
        "files: vocab.txt, vocab.json + merges.txt, or spiece.model.",
    )
    flags.DEFINE_string("output_dir", None, "Where the .tfrecord shards go.")
    flags.DEFINE_string(
        "objective",
        None,
        "Pre-training objective: "
        f"{', '.join(registry.OBJECTIVES)}; default: the family's (config.json "
        "in --vocab_dir), else by its tokenizer files.",
    )
    flags.DEFINE_integer("seq_length", 128, "Tokens per example.")
    flags.DEFINE_integer("max_predictions_per_seq", 20, "Masked positions per example.")
    flags.DEFINE_float("mask_rate", 0.15, "Fraction of tokens to predict.")
    flags.DEFINE_enum(
        "masking",
        None,
        ["static", "dynamic"],
        "static: masks written into the records; dynamic: drawn by run_pretraining. "
        "Default: the objective's (dynamic for mlm and rtd).",
    )
    flags.DEFINE_bool("whole_word_masking", False, "Mask all pieces of a word together.")
    flags.DEFINE_integer("dupe_factor", 5, "Passes over the corpus (different masks each).")
    flags.DEFINE_float("short_seq_prob", 0.1, "Probability of a shorter target length.")
    flags.DEFINE_integer("num_shards", 2, "Output files.")
    flags.DEFINE_integer("random_seed", 12345, "Seed for pairing and masking.")


# The flags' ranges, checked before anything is read.
RANGES = {
    "seq_length": "[3, inf)",
    "max_predictions_per_seq": "[1, inf)",
    "mask_rate": "(0, 1)",
    "dupe_factor": "[1, inf)",
    "short_seq_prob": "[0, 1]",
    "num_shards": "[1, inf)",
}


def run():
    check_flags(FLAGS, RANGES)
    if FLAGS.objective is not None:
        registry.get_objective(FLAGS.objective, source="--objective")
    paths = sorted(
        p
        for pattern in (FLAGS.input_file or "").split(",")
        if pattern
        for p in (glob.glob(pattern) or [pattern])
    )
    if not paths:
        raise DataError("--input_file: no input files given")
    if not FLAGS.output_dir:
        raise DataError("--output_dir is required")
    vocab_dir = resolve_checkpoint(FLAGS.vocab_dir or "", flag="--vocab_dir")
    static = None if FLAGS.masking is None else FLAGS.masking == "static"
    options = RecordOptions(
        FLAGS.seq_length,
        static,
        FLAGS.max_predictions_per_seq,
        FLAGS.mask_rate,
        FLAGS.whole_word_masking,
        FLAGS.dupe_factor,
        FLAGS.short_seq_prob,
    )
    shards, facts = create_records(
        paths,
        vocab_dir,
        FLAGS.output_dir,
        FLAGS.objective,
        options,
        FLAGS.num_shards,
        FLAGS.random_seed,
    )
    print(
        f"wrote {facts['examples']} {facts['objective']} examples from "
        f"{facts['documents']} documents to {len(shards)} shards in {FLAGS.output_dir} "
        f"({facts['masking']} masking)"
    )


def main():
    run_script(__name__)
