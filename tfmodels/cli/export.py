r"""Exports a checkpoint as a SavedModel (raw text in, for TF Serving) and/or TFLite.

    python run_export.py --init_from=runs/demo/hf_model --export_dir=exports/demo \
        --formats=saved_model,tflite --quantize=dynamic --seq_length=64

For --quantize=int8, --calibration_file (a TSV/CSV with a header) and
--calibration_column name the texts the activation ranges are measured on.
"""

import os

import tensorflow as tf
from absl import flags

import tfmodels
from tfmodels.cli import run_script
from tfmodels.convert.packaged import resolve_checkpoint
from tfmodels.errors import ConfigError, DataError
from tfmodels.export.tflite import QUANTIZE
from tfmodels.text_files import read_table

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("init_from", None, "HF checkpoint directory (e.g. a run's hf_model/).")
    flags.DEFINE_string("export_dir", None, "Output folder.")
    flags.DEFINE_list("formats", ["saved_model", "tflite"], "saved_model and/or tflite.")
    flags.DEFINE_enum(
        "quantize", "none", [str(q).lower() for q in QUANTIZE], "TFLite quantization."
    )
    flags.DEFINE_integer("seq_length", 128, "Fixed sequence length of the exported model.")
    flags.DEFINE_string("calibration_file", None, "TSV/CSV of texts for --quantize=int8.")
    flags.DEFINE_string("calibration_column", "text", "Column of --calibration_file to read.")
    flags.DEFINE_enum(
        "tokenizer_ops",
        "auto",
        ["auto", "core", "tf_text"],
        "Tokenizer ops in the SavedModel: core TF ops (which a stock TF Serving binary "
        "runs; WordPiece and byte-level BPE), tf_text, or auto (core where possible).",
    )


def _calibration_features(preprocessor):
    path = FLAGS.calibration_file
    if not path or not os.path.isfile(path):
        raise DataError(f"--calibration_file: file not found: {path}")
    table = read_table(path)  # the training scripts' reader: UTF-8, BOM, quoting, widths
    if FLAGS.calibration_column not in table.header:
        raise DataError(
            f"--calibration_column={FLAGS.calibration_column!r}: not a column of {path} "
            f"(columns: {', '.join(table.header)})"
        )
    column = table.header.index(FLAGS.calibration_column)
    texts = [row[column] for row in table.rows[:200]]
    return {k: v.numpy() for k, v in preprocessor(tf.constant(texts)).items()}


def run():
    if not FLAGS.export_dir:
        raise ConfigError("--export_dir is required")
    path = resolve_checkpoint(FLAGS.init_from or "")
    model = tfmodels.from_pretrained(path)
    preprocessor = tfmodels.preprocessor_from_pretrained(path, FLAGS.seq_length)
    unknown = set(FLAGS.formats) - {"saved_model", "tflite"}
    if unknown:
        raise ConfigError(f"--formats: unknown {', '.join(sorted(unknown))}")
    if "saved_model" in FLAGS.formats:
        out = tfmodels.export.saved_model(
            model,
            os.path.join(FLAGS.export_dir, "saved_model"),
            preprocessor=preprocessor,
            tokenizer_ops=FLAGS.tokenizer_ops,
        )
        print(f"wrote {out}")
    if "tflite" in FLAGS.formats:
        quantize = None if FLAGS.quantize == "none" else FLAGS.quantize
        calibration = _calibration_features(preprocessor) if quantize == "int8" else None
        out = tfmodels.export.tflite(
            model,
            os.path.join(FLAGS.export_dir, f"model_{FLAGS.quantize}.tflite"),
            seq_length=FLAGS.seq_length,
            quantize=quantize,
            representative_data=calibration,
        )
        print(f"wrote {out} ({os.path.getsize(out) / 2**20:.1f} MiB)")


def main():
    run_script(__name__)
