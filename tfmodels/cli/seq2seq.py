r"""Fine-tunes, evaluates or predicts with an encoder-decoder on source -> target pairs.

    python run_seq2seq.py --config=configs/experiments/seq2seq_summarize_bart_base.yaml \
        --data_dir=my_pairs --init_from=path/to/bart-base --model_dir=runs/summarize

``--data_dir`` holds train, dev (or valid) and test as ``.tsv`` (source<TAB>target) or
``.jsonl`` (``seq2seq.source_key``/``target_key`` fields). ``seq2seq.kind``:
translation (BLEU), summarization (ROUGE-1/2/L and BLEU) or text2text (exact match;
with ``seq2seq.glue_task`` a GLUE folder in T5's prompts, scored by the GLUE metric).
See tfmodels/tasks/seq2seq.py for the data and tfmodels/generation/ for decoding.
"""
from absl import flags

from tfmodels.cli import run_script
from tfmodels.tasks import seq2seq_experiment
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    common.define_fine_tuning_flags(seq2seq_experiment.MODES)
    flags.DEFINE_string("data_dir", None,
                        "Folder with train, dev and test pairs (.tsv or .jsonl).")
    flags.DEFINE_enum("kind", None, ["translation", "summarization", "text2text"],
                      "Task kind (decides the metrics).")
    flags.DEFINE_integer("num_beams", None, "Beams for beam-search decoding.")


def run():
    overrides = list(FLAGS.set) + common.flag_overrides({
        "data_dir": "task.data_dir", "init_from": "model.init_from",
        "kind": "seq2seq.kind", "num_beams": "seq2seq.num_beams"})
    cfg = seq2seq_experiment.load_seq2seq_experiment(FLAGS.config, overrides)
    model_dir = FLAGS.model_dir or ("runs/seq2seq" if FLAGS.config else None)
    seq2seq_experiment.run(cfg, model_dir, FLAGS.mode, FLAGS.distribution_strategy,
                           FLAGS.tpu, FLAGS.mixed_precision, FLAGS.jit_compile)


def main():
    run_script(__name__)
