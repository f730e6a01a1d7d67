r"""Fine-tunes, evaluates or predicts span question answering on SQuAD v1.1 / v2.0.

    python run_squad.py --config=configs/experiments/squad_v1_bert_base.yaml \
        --train_file=squad/train-v1.1.json --predict_file=squad/dev-v1.1.json \
        --init_from=bert_base_uncased_dir --model_dir=runs/squad_v1

Writes predictions.json and null_odds.json (the official evaluation scripts' inputs),
eval_results.json and metrics.json under --model_dir.
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    common.define_fine_tuning_flags()
    flags.DEFINE_string(
        "train_file", None, "SQuAD training JSON (train-v1.1.json, train-v2.0.json)."
    )
    flags.DEFINE_string("predict_file", None, "SQuAD JSON to evaluate on or answer (dev-*.json).")
    flags.DEFINE_float(
        "null_score_diff_threshold",
        None,
        "v2.0: answer nothing when null score - best span score exceeds this "
        "(default: best_f1_thresh tuned on --predict_file).",
    )


def run():
    common.run_task(
        "squad",
        {
            "train_file": "task.train_file",
            "predict_file": "task.predict_file",
            "init_from": "model.init_from",
            "null_score_diff_threshold": "task.null_score_diff_threshold",
        },
        lambda cfg: "runs/squad",
        FLAGS.mode,
    )


def main():
    run_script(__name__)
