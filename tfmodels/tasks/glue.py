"""GLUE tasks (Wang et al. 2019) and user TSV/CSV files as labelled examples.

File names, headers and column positions are those of the official GLUE
distribution (``download_glue_data.py`` layout). Every row is checked: a wrong
column count or a label outside the task's set is an error naming file and line.
"""

import csv
import dataclasses
import os
from typing import Optional, Tuple

import numpy as np

from tfmodels.errors import ConfigError, DataError

csv.field_size_limit(2**31 - 1)


@dataclasses.dataclass(frozen=True)
class Columns:
    text_a: int
    text_b: Optional[int] = None
    label: Optional[int] = None  # -1: the last column


@dataclasses.dataclass
class Examples:
    """Parallel lists; ``labels`` are class indexes (or floats for regression), None for test."""

    ids: list
    text_a: list
    text_b: Optional[list]
    labels: Optional[np.ndarray]

    def __len__(self):
        return len(self.text_a)


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    folder: str
    labels: Optional[Tuple[str, ...]]  # None: regression
    metric: str  # accuracy | f1 | matthews | correlation
    columns: Columns  # train/dev files
    test_columns: Columns
    dev_files: Tuple[Tuple[str, str], ...] = (("dev", "dev.tsv"),)
    test_files: Tuple[Tuple[str, str], ...] = ()  # (submission file stem, file name)
    header: bool = True
    train_file: str = "train.tsv"
    delimiter: str = "\t"
    test_has_index: bool = True  # GLUE test files start with an index column

    @property
    def num_labels(self):
        return 1 if self.labels is None else len(self.labels)

    @property
    def is_regression(self):
        return self.labels is None

    def path(self, data_dir, file_name):
        path = os.path.join(data_dir, file_name)
        if not os.path.isfile(path):
            raise DataError(f"{self.name}: data file not found: {path}")
        return path

    def read(self, data_dir, file_name, labelled=True):
        """Reads one split. ``labelled=False`` reads a test file (no label column)."""
        path = self.path(data_dir, file_name)
        columns = self.columns if labelled else self.test_columns
        header = self.header or not labelled
        ids, text_a, text_b, labels = [], [], [], []
        with open(path, encoding="utf-8", newline="") as f:
            rows = csv.reader(
                f,
                delimiter=self.delimiter,
                quoting=csv.QUOTE_NONE if self.delimiter == "\t" else csv.QUOTE_MINIMAL,
            )
            width = None
            for line, row in enumerate(rows, start=1):
                if header and line == 1:
                    width = len(row)
                    continue
                if not row or row == [""]:
                    continue
                width = width or 4  # CoLA's header-less train/dev files have 4 columns
                if len(row) != width:
                    raise DataError(
                        f"{path}:{line}: expected {width} columns "
                        f"({self.delimiter!r}-separated), found {len(row)}"
                    )
                ids.append(row[0] if not labelled and self.test_has_index else str(len(ids)))
                text_a.append(row[columns.text_a])
                if columns.text_b is not None:
                    text_b.append(row[columns.text_b])
                if labelled:
                    labels.append(self._label(row[columns.label], path, line))
        if not text_a:
            raise DataError(f"{path}: no examples")
        dtype = np.float32 if self.is_regression else np.int32
        return Examples(
            ids,
            text_a,
            text_b if columns.text_b is not None else None,
            np.asarray(labels, dtype) if labelled else None,
        )

    def _label(self, value, path, line):
        if self.is_regression:
            try:
                return float(value)
            except ValueError:
                raise DataError(f"{path}:{line}: label {value!r} is not a number") from None
        if value not in self.labels:
            raise DataError(
                f"{path}:{line}: label {value!r} is not one of "
                f"{', '.join(self.labels)} ({self.name})"
            )
        return self.labels.index(value)

    def format_prediction(self, prediction):
        """A prediction as the GLUE server expects it in the submission TSV."""
        if self.is_regression:
            return f"{min(max(float(prediction), 0.0), 5.0):.3f}"
        return self.labels[int(prediction)]


_BINARY = ("0", "1")
_NLI2 = ("entailment", "not_entailment")
_PAIR = Columns(1, 2, 3)
_PAIR_TEST = Columns(1, 2)

GLUE_TASKS = {
    t.name: t
    for t in [
        Task(
            "cola",
            "CoLA",
            _BINARY,
            "matthews",
            Columns(3, None, 1),
            Columns(1),
            header=False,
            test_files=(("CoLA", "test.tsv"),),
        ),
        Task(
            "sst2",
            "SST-2",
            _BINARY,
            "accuracy",
            Columns(0, None, 1),
            Columns(1),
            test_files=(("SST-2", "test.tsv"),),
        ),
        Task(
            "mrpc",
            "MRPC",
            _BINARY,
            "f1",
            Columns(3, 4, 0),
            Columns(3, 4),
            test_files=(("MRPC", "test.tsv"),),
        ),
        Task(
            "stsb",
            "STS-B",
            None,
            "correlation",
            Columns(7, 8, 9),
            Columns(7, 8),
            test_files=(("STS-B", "test.tsv"),),
        ),
        Task(
            "qqp",
            "QQP",
            _BINARY,
            "f1",
            Columns(3, 4, 5),
            Columns(1, 2),
            test_files=(("QQP", "test.tsv"),),
        ),
        Task(
            "mnli",
            "MNLI",
            ("contradiction", "entailment", "neutral"),
            "accuracy",
            Columns(8, 9, -1),
            Columns(8, 9),
            dev_files=(
                ("dev_matched", "dev_matched.tsv"),
                ("dev_mismatched", "dev_mismatched.tsv"),
            ),
            test_files=(("MNLI-m", "test_matched.tsv"), ("MNLI-mm", "test_mismatched.tsv")),
        ),
        Task(
            "qnli", "QNLI", _NLI2, "accuracy", _PAIR, _PAIR_TEST, test_files=(("QNLI", "test.tsv"),)
        ),
        Task("rte", "RTE", _NLI2, "accuracy", _PAIR, _PAIR_TEST, test_files=(("RTE", "test.tsv"),)),
        Task(
            "wnli",
            "WNLI",
            _BINARY,
            "accuracy",
            _PAIR,
            _PAIR_TEST,
            test_files=(("WNLI", "test.tsv"),),
        ),
    ]
}
_ALIASES = {"sst-2": "sst2", "sts-b": "stsb", "mnli-m": "mnli"}


def _column_index(header, name, path, flag):
    if name is None:
        return None
    if name in header:
        return header.index(name)
    if name.isdigit() and int(name) < len(header):
        return int(name)
    raise ConfigError(f"{flag}={name!r}: no such column in {path} (columns: {', '.join(header)})")


def tsv_task(data_dir, text_a_column, text_b_column=None, label_column="label", labels=None):
    """A task over the user's own ``train``/``dev``/``test`` .tsv or .csv files with a header."""
    if not data_dir or not os.path.isdir(data_dir):
        raise DataError(f"--data_dir: folder not found: {data_dir}")
    extension = ".csv" if os.path.isfile(os.path.join(data_dir, "train.csv")) else ".tsv"
    delimiter = "," if extension == ".csv" else "\t"
    train = os.path.join(data_dir, "train" + extension)
    if not os.path.isfile(train):
        raise DataError(f"tsv task: {data_dir} has no train.tsv or train.csv")
    with open(train, encoding="utf-8", newline="") as f:
        header = next(csv.reader(f, delimiter=delimiter), [])
    a = _column_index(header, text_a_column or header[0], train, "--text_a_column")
    b = _column_index(header, text_b_column, train, "--text_b_column")
    y = _column_index(header, label_column or "label", train, "--label_column")
    if labels is None:
        with open(train, encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f, delimiter=delimiter))[1:]
        labels = sorted({row[y] for row in rows if len(row) > y})
    # A labelled test split is evaluated beside dev, and predicted in --mode=predict.
    test = (
        [("test", "test" + extension)]
        if os.path.isfile(os.path.join(data_dir, "test" + extension))
        else []
    )
    return Task(
        "tsv",
        os.path.basename(os.path.normpath(data_dir)),
        tuple(labels),
        "accuracy",
        Columns(a, b, y),
        Columns(a, b),
        dev_files=(("dev", "dev" + extension),) + tuple(test),
        test_files=tuple(test),
        train_file="train" + extension,
        delimiter=delimiter,
        test_has_index=False,
    )


def get_task(
    name, data_dir=None, text_a_column=None, text_b_column=None, label_column=None, labels=None
):
    """The task called ``name`` (a GLUE task or ``tsv``)."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key == "tsv":
        return tsv_task(data_dir, text_a_column, text_b_column, label_column, labels)
    if key not in GLUE_TASKS:
        raise ConfigError(
            f"--task: unknown task {name!r}; known: {', '.join(sorted(GLUE_TASKS))}, tsv"
        )
    return GLUE_TASKS[key]
