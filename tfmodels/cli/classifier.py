r"""Fine-tunes, evaluates or predicts with a sentence(-pair) classifier.

    python run_classifier.py --config=configs/experiments/demo_minilm_fortunes.yaml \
        --model_dir=runs/demo
    python run_classifier.py --task=mrpc --data_dir=glue_data/MRPC \
        --init_from=all-minilm-l6-v2 --model_dir=runs/mrpc
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    common.define_fine_tuning_flags()
    common.define_text_task_flags()


def run():
    common.run_task(
        "classification",
        {**common.TEXT_TASK_KEYS, "init_from": "model.init_from"},
        lambda cfg: f"runs/{cfg.task.name}",
        FLAGS.mode,
    )


def main():
    run_script(__name__)
