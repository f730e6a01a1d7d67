r"""Fine-tunes, evaluates or predicts with a token tagger on CoNLL-2003 style files.

    python run_tagger.py --config=configs/experiments/conll2003_bert_base.yaml \
        --data_dir=conll2003 --init_from=bert-base-cased --model_dir=runs/conll2003

``--data_dir`` holds train.txt, valid.txt (or dev.txt) and test.txt: one token per
line with its tag last, blank lines between sentences. Entity-level precision, recall
and F1 are conlleval's (via seqeval); see tfmodels/tasks/conll.py for the features.
"""

from absl import flags

from tfmodels.cli import run_script
from tfmodels.training import flags as common

FLAGS = flags.FLAGS


def define_flags():
    common.define_common_flags()
    common.define_fine_tuning_flags()
    flags.DEFINE_string(
        "data_dir", None, "Folder with train.txt, valid.txt (or dev.txt), test.txt."
    )
    flags.DEFINE_enum("scheme", None, ["BIO", "IOBES"], "Tag scheme the model learns.")


def run():
    common.run_task(
        "tagging",
        {"data_dir": "task.data_dir", "init_from": "model.init_from", "scheme": "task.scheme"},
        lambda cfg: "runs/conll",
        FLAGS.mode,
    )


def main():
    run_script(__name__)
