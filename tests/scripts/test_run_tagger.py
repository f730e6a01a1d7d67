"""run_tagger.py end to end on tiny CoNLL files (IOBES on disk, BIO learned), and its
one-line errors on bad input."""

import json
import os

import pytest
import tf_keras

import tfmodels
from tests.conftest import experiment, one_line_error, run_script
from tfmodels.errors import ConfigError, DataError
from tfmodels.tasks import conll, tagging_experiment
from tfmodels.training.driver import run_experiment

SENTENCES = [
    [("John", "B-PER"), ("Smith", "E-PER"), ("visited", "O"), ("Paris", "S-LOC"), (".", "O")],
    [("Reuters", "S-ORG"), ("said", "O"), ("on", "O"), ("Monday", "O")],
    [
        ("The", "O"),
        ("United", "B-ORG"),
        ("Nations", "E-ORG"),
        ("met", "O"),
        ("in", "O"),
        ("New", "B-LOC"),
        ("York", "E-LOC"),
    ],
    # 20 words: more than seq_length - 2 = 14 sub-tokens, so it is split into windows.
    [(w, "O") for w in "and then a very long sentence went on and on for a while before".split()]
    + [
        ("Mary", "S-PER"),
        ("came", "O"),
        ("to", "O"),
        ("Berlin", "S-LOC"),
        ("again", "O"),
        (".", "O"),
        ("ok", "O"),
    ],
]


def write_split(path, sentences, docstart=True):
    with open(path, "w", encoding="utf-8") as f:
        if docstart:
            f.write("-DOCSTART- -X- -X- O\n\n")
        for sentence in sentences:
            for word, tag in sentence:
                f.write(f"{word} NNP B-NP {tag}\n")
            f.write("\n")


@pytest.fixture
def data_dir(tmp_path):
    folder = tmp_path / "conll"
    folder.mkdir()
    write_split(folder / "train.txt", SENTENCES * 3)
    write_split(folder / "valid.txt", SENTENCES[:2] + SENTENCES[3:])
    write_split(folder / "test.txt", SENTENCES[1:])
    return folder


SETTINGS = [
    "trainer.train_steps=40",
    "trainer.checkpoint_every=40",
    "data.train_batch_size=4",
    "model.seq_length=16",
    "optimizer.lr=1e-2",
    "schedule.warmup_steps=0",
]


def test_trains_scores_entities_and_writes_predictions(tmp_path, data_dir, tiny_checkpoint, capsys):
    """run_tagger.py's body in-process, seeded, under XLA (the script runs below)."""
    tf_keras.utils.set_random_seed(0)  # the new token head and dropout
    cfg = experiment(
        f"task.data_dir={data_dir}",
        f"model.init_from={tiny_checkpoint}",
        *SETTINGS,
        "runtime.jit_compile=true",
        task_type="tagging",
    )
    run_experiment(cfg, str(tmp_path / "run"))
    out = capsys.readouterr().out
    assert "step 40/40" in out
    assert "(15 windows, 0 words cut)" in out  # 12 sentences, 3 in 2 windows
    run = tmp_path / "run"
    with open(run / "metrics.json") as f:
        report = json.load(f)
    assert report["labels"] == ["O", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    results = report["eval"]
    with open(run / "eval_results.json") as f:
        assert json.load(f)["dev/f1"] == results["dev/f1"]
    for split in ("dev", "test"):
        for key in ("precision", "recall", "f1", "accuracy"):
            assert 0.0 <= results[f"{split}/{key}"] <= 1.0
        assert set(results[f"{split}/per_type"]) >= {"PER", "LOC", "ORG"}
    # It learns: the tags of these sentences are mostly read off their words.
    with open(run / "history.json") as f:
        losses = [h["loss"] for h in json.load(f) if "loss" in h]
    assert losses[-1] < 0.5 * losses[0], losses
    assert results["dev/f1"] >= 0.5, results

    # Predictions: every word of valid.txt, with its gold tag, predictions in the file's
    # IOBES; scoring that file again gives the reported F1.
    gold = conll.read_conll(str(data_dir / "valid.txt"))
    with open(run / "predictions" / "dev.txt", encoding="utf-8") as f:
        blocks = [b.split("\n") for b in f.read().strip("\n").split("\n\n")]
    rows = [[line.split(" ") for line in block] for block in blocks]
    assert [[r[0] for r in s] for s in rows] == [s.words for s in gold]
    assert [[r[1] for r in s] for s in rows] == [s.tags for s in gold]
    predicted = [[r[2] for r in s] for s in rows]
    assert all(t == "O" or t[:2] in ("B-", "I-", "E-", "S-") for s in predicted for t in s)
    assert all(conll.convert(s, "IOBES") == s for s in predicted)  # valid IOBES
    rescored = conll.entity_metrics([s.tags for s in gold], predicted)
    assert rescored["f1"] == pytest.approx(results["dev/f1"])
    assert not [f for f in os.listdir(run / "predictions") if ".tmp" in f]

    model = tfmodels.from_pretrained(str(run / "hf_model"))
    assert model.architecture == "BertForTokenClassification"
    assert model.label_names == report["labels"]
    assert os.path.isfile(run / "hf_model" / "vocab.txt")
    assert os.path.isfile(run / "training_curves.png")


def test_bad_line_is_one_line_and_exit_2(tmp_path, data_dir, tiny_checkpoint):
    text = (data_dir / "train.txt").read_text().replace("Paris NNP B-NP S-LOC", "Paris S-LOC", 1)
    (data_dir / "train.txt").write_text(text)
    result = run_script(
        "run_tagger.py",
        f"--data_dir={data_dir}",
        f"--init_from={tiny_checkpoint}",
        f"--model_dir={tmp_path / 'run'}",
        *[f"--set={s}" for s in SETTINGS],
    )
    assert "train.txt:6: expected 4 columns" in one_line_error(result)
    assert not os.path.exists(tmp_path / "run")  # checked before anything is written


@pytest.mark.parametrize("case", ["unknown_tag", "missing_file"])
def test_bad_data_is_refused_before_the_model_is_built(case, tmp_path, data_dir):
    # In process (the script turns DataError into one line and exit 2, as above).
    if case == "unknown_tag":
        write_split(data_dir / "valid.txt", [[("Bonn", "S-CITY")]])
        expected = r"valid\.txt:3: tag 'B-CITY' is not in the label set from train"
    else:
        os.remove(data_dir / "test.txt")
        expected = "test file not found"
    cfg = experiment(
        f"task.data_dir={data_dir}", "model.init_from=/nonexistent", task_type="tagging"
    )
    with pytest.raises(DataError, match=expected):
        run_experiment(cfg, str(tmp_path / "run"))
    assert not os.path.exists(tmp_path / "run")


def test_given_labels_are_checked():
    sentences = [conll.Sentence(["a", "b"], ["B-PER", "I-PER"], [1, 2])]
    given = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    cfg = experiment(f"task.labels=[{', '.join(given)}]", task_type="tagging")
    assert tagging_experiment._labels(cfg.task, sentences) == given
    for labels, message in (
        ("[O, B-PER]", "lacks 'I-PER'"),
        ("[O, B-PER, I-PER, S-LOC]", "'S-LOC' is not a BIO tag"),
    ):
        cfg = experiment(f"task.labels={labels}", task_type="tagging")
        with pytest.raises(ConfigError, match=message):
            tagging_experiment._labels(cfg.task, sentences)
