r"""Fine-tunes, evaluates or predicts with a token tagger on CoNLL-2003 style files.

    python run_tagger.py --config=configs/experiments/conll2003_bert_base.yaml \
        --data_dir=conll2003 --init_from=bert-base-cased --model_dir=runs/conll2003

``--data_dir`` holds train.txt, valid.txt (or dev.txt) and test.txt: one token per
line with its tag last, blank lines between sentences. Entity-level precision, recall
and F1 are conlleval's (via seqeval); see tfmodels/tasks/conll.py for the features.
"""
from absl import flags

from tfmodels.cli import run_script
from tfmodels.tasks import tagging_experiment
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    common.define_fine_tuning_flags(tagging_experiment.MODES)
    flags.DEFINE_string("data_dir", None,
                        "Folder with train.txt, valid.txt (or dev.txt), test.txt.")
    flags.DEFINE_enum("scheme", None, ["BIO", "IOBES"], "Tag scheme the model learns.")


def run():
    overrides = list(FLAGS.set) + common.flag_overrides({
        "data_dir": "task.data_dir", "init_from": "model.init_from",
        "scheme": "tagging.scheme"})
    cfg = tagging_experiment.load_tagging_experiment(FLAGS.config, overrides)
    model_dir = FLAGS.model_dir or ("runs/conll" if FLAGS.config else None)
    tagging_experiment.run(cfg, model_dir, FLAGS.mode, FLAGS.distribution_strategy,
                           FLAGS.tpu, FLAGS.mixed_precision, FLAGS.jit_compile)


def main():
    run_script(__name__)
