r"""The compression table: every compression method applied to one fine-tuned classifier.

    python run_benchmark.py --teacher=runs/demo/hf_model --data_dir=runs/data/fortunes \
        --output_dir=runs/compression [--rows=teacher,ptq_dynamic,...] [--steps=150]

The default teacher is the `make demo` model (real MiniLM fine-tuned on the fortunes
topics). Writes compression.md, compression.csv and compression.png under
--output_dir; finished rows are kept in rows/*.json and reused when the study is run
again (delete them to measure anew).
"""

import os

from absl import flags

from tfmodels.cli import run_script
from tfmodels.compression import benchmark
from tfmodels.errors import ConfigError

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("teacher", "runs/demo/hf_model", "Fine-tuned classifier (HF layout).")
    flags.DEFINE_string("data_dir", "runs/data/fortunes", "train.tsv/test.tsv with text,label.")
    flags.DEFINE_string("output_dir", "runs/compression", "Where the table and artifacts go.")
    flags.DEFINE_list("rows", list(benchmark.ROWS), "Methods to measure.")
    flags.DEFINE_integer("seq_length", 128, "Sequence length for scoring and latency.")
    flags.DEFINE_integer("steps", 150, "Recovery fine-tune steps for methods that train.")
    flags.DEFINE_integer("latency_repeats", 20, "Timed calls per latency figure (median).")
    flags.DEFINE_integer("calibration", 400, "Training texts that calibrate int8 PTQ.")


def run():
    if not os.path.isdir(FLAGS.teacher):
        raise ConfigError(f"--teacher: {FLAGS.teacher} not found (run `make demo` first)")
    study = benchmark.Study(
        FLAGS.teacher,
        FLAGS.data_dir,
        FLAGS.output_dir,
        seq_length=FLAGS.seq_length,
        steps=FLAGS.steps,
        latency_repeats=FLAGS.latency_repeats,
        calibration_rows=FLAGS.calibration,
    )
    _, paths = benchmark.run_study(study, FLAGS.rows)
    with open(paths[0], encoding="utf-8") as f:
        print(f.read())
    print("wrote " + ", ".join(paths))


def main():
    run_script(__name__)
