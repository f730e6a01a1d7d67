"""GLUE readers on the official layouts; bad rows and labels name file and line."""

import numpy as np
import pytest

from tests.glue_data import ROWS, write_glue_task
from tfmodels.errors import ConfigError, DataError
from tfmodels.tasks.glue import GLUE_TASKS, get_task


@pytest.mark.parametrize("name", sorted(GLUE_TASKS))
def test_every_split_of_every_task_reads(name, tmp_path):
    task = GLUE_TASKS[name]
    data_dir = write_glue_task(str(tmp_path), task.folder)
    train = task.read(data_dir, task.train_file)
    assert len(train) == ROWS
    assert train.text_a[0].startswith("the ")
    assert (train.text_b is None) == (task.columns.text_b is None)
    if task.is_regression:
        assert train.labels.dtype == np.float32 and train.labels.max() == pytest.approx(5.0)
    else:
        assert set(train.labels.tolist()) <= set(range(task.num_labels))
    for _, file_name in task.dev_files:
        assert len(task.read(data_dir, file_name)) == ROWS
    for stem, file_name in task.test_files:
        test = task.read(data_dir, file_name, labelled=False)
        assert test.labels is None and test.ids == [str(i) for i in range(ROWS)]


def test_mnli_labels_and_submission_strings(tmp_path):
    task = get_task("mnli")
    data_dir = write_glue_task(str(tmp_path), "MNLI")
    dev = task.read(data_dir, "dev_mismatched.tsv")
    assert dev.labels.tolist()[:3] == [0, 1, 2]  # contradiction, entailment, neutral
    assert [stem for stem, _ in task.test_files] == ["MNLI-m", "MNLI-mm"]
    assert task.format_prediction(1) == "entailment"
    assert get_task("stsb").format_prediction(7.2) == "5.000"


def test_wrong_column_count_names_file_and_line(tmp_path):
    data_dir = write_glue_task(str(tmp_path), "RTE")
    with open(f"{data_dir}/train.tsv", "a") as f:
        f.write("99\tonly two columns\n")
    with pytest.raises(DataError, match=r"RTE/train\.tsv:10: expected 4 columns .* found 2"):
        get_task("rte").read(data_dir, "train.tsv")


def test_label_outside_the_task_set(tmp_path):
    data_dir = write_glue_task(str(tmp_path), "QNLI")
    with open(f"{data_dir}/dev.tsv", "a") as f:
        f.write("99\ta\tb\tmaybe\n")
    with pytest.raises(
        DataError,
        match=r"dev\.tsv:10: label 'maybe' is not one of "
        r"entailment, not_entailment",
    ):
        get_task("qnli").read(data_dir, "dev.tsv")


def test_unknown_task_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="unknown task 'glue9'"):
        get_task("glue9")
    with pytest.raises(DataError, match="data file not found"):
        get_task("cola").read(str(tmp_path), "train.tsv")


def test_generic_tsv_and_csv_tasks(tmp_path):
    (tmp_path / "train.csv").write_text('review,stars\n"good, really",pos\nawful,neg\nfine,pos\n')
    (tmp_path / "dev.csv").write_text("review,stars\nbad,neg\n")
    task = get_task("tsv", str(tmp_path), text_a_column="review", label_column="stars")
    assert task.labels == ("neg", "pos")
    train = task.read(str(tmp_path), task.train_file)
    assert train.text_a[0] == "good, really" and train.labels.tolist() == [1, 0, 1]
    with pytest.raises(ConfigError, match="--text_a_column='text': no such column"):
        get_task("tsv", str(tmp_path), text_a_column="text", label_column="stars")
