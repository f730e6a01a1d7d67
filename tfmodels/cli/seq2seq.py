r"""Fine-tunes, evaluates or predicts with an encoder-decoder on source -> target pairs.

    python run_seq2seq.py --config=configs/experiments/seq2seq_summarize_bart_base.yaml \
        --data_dir=my_pairs --init_from=path/to/bart-base --model_dir=runs/summarize

``--data_dir`` holds train, dev (or valid) and test as ``.tsv`` (source<TAB>target) or
``.jsonl`` (``task.source_key``/``target_key`` fields). ``task.kind``:
translation (BLEU), summarization (ROUGE-1/2/L and BLEU) or text2text (exact match;
with ``task.glue_task`` a GLUE folder in T5's prompts, scored by the GLUE metric).
See tfmodels/tasks/seq2seq.py for the data and tfmodels/generation/ for decoding.
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    common.define_fine_tuning_flags()
    flags.DEFINE_string("data_dir", None, "Folder with train, dev and test pairs (.tsv or .jsonl).")
    flags.DEFINE_enum(
        "kind",
        None,
        ["translation", "summarization", "text2text"],
        "Task kind (decides the metrics).",
    )
    flags.DEFINE_integer("num_beams", None, "Beams for beam-search decoding.")


def run():
    common.run_task(
        "seq2seq",
        {
            "data_dir": "task.data_dir",
            "init_from": "model.init_from",
            "kind": "task.kind",
            "num_beams": "task.num_beams",
        },
        lambda cfg: "runs/seq2seq",
        FLAGS.mode,
    )


def main():
    run_script(__name__)
