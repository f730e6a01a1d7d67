r"""Fine-tunes, evaluates or predicts with a sentence(-pair) classifier.

    python run_classifier.py --config=configs/experiments/demo_minilm_fortunes.yaml \
        --model_dir=runs/demo
    python run_classifier.py --task=mrpc --data_dir=glue_data/MRPC \
        --init_from=all-minilm-l6-v2 --model_dir=runs/mrpc
"""
from absl import flags

from tfmodels.cli import run_script
from tfmodels.tasks import classifier_experiment
from tfmodels.training import flags as common
from tfmodels.training.experiment import load_experiment

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    common.define_fine_tuning_flags(classifier_experiment.MODES)
    common.define_text_task_flags()


def run():
    overrides = list(FLAGS.set) + common.flag_overrides({
        **common.TEXT_TASK_KEYS, "init_from": "model.init_from"})
    cfg = load_experiment(FLAGS.config, overrides)
    model_dir = FLAGS.model_dir or (f"runs/{cfg.task.name}" if FLAGS.config else None)
    classifier_experiment.run(cfg, model_dir, FLAGS.mode, FLAGS.distribution_strategy,
                              FLAGS.tpu, FLAGS.mixed_precision, FLAGS.jit_compile)


def main():
    run_script(__name__)
