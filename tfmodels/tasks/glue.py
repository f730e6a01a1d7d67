"""GLUE tasks (Wang et al. 2019) and user TSV/CSV files as labelled examples.

File names, headers and column positions are those of the official GLUE
distribution (``download_glue_data.py`` layout). Every row is checked: a wrong
column count or a label outside the task's set is an error naming file and line.
"""

import dataclasses
import os
from typing import Optional, Tuple

import numpy as np

from tfmodels.errors import ConfigError, DataError
from tfmodels.text_files import read_table


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

    def take(self, indexes):
        """The examples at ``indexes``, in that order."""
        pick = lambda values: None if values is None else [values[i] for i in indexes]  # noqa: E731
        labels = None if self.labels is None else self.labels[np.asarray(indexes, np.int64)]
        return Examples(pick(self.ids), pick(self.text_a), pick(self.text_b), labels)


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
    # A TSV task's (text_a, text_b, label) column names: looked up in each file's header.
    column_names: Optional[Tuple[Optional[str], ...]] = None

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
        header = self.header or not labelled
        # CoLA's header-less train/dev files have 4 columns.
        table = read_table(path, self.delimiter, header=header, width=None if header else 4)
        columns = self._columns(table, labelled)
        ids, text_a, text_b, labels = [], [], [], []
        for line, row in zip(table.lines, table.rows):
            ids.append(row[0] if not labelled and self.test_has_index else str(len(ids)))
            text_a.append(row[columns.text_a])
            if columns.text_b is not None:
                text_b.append(row[columns.text_b])
            if labelled:
                labels.append(self._label(row[columns.label], path, line))
        dtype = np.float32 if self.is_regression else np.int32
        return Examples(
            ids,
            text_a,
            text_b if columns.text_b is not None else None,
            np.asarray(labels, dtype) if labelled else None,
        )

    def _columns(self, table, labelled):
        """The file's columns: GLUE's fixed positions, or a TSV task's by header name
        (each file's own header, so dev and test may order their columns otherwise)."""
        if self.column_names is None:
            return self.columns if labelled else self.test_columns
        a, b, y = self.column_names
        if labelled and y not in table.header:
            raise DataError(
                f"{table.path}: no label column {y!r} (columns: {', '.join(table.header)}); "
                "a dev file needs labels (unlabelled texts go in test"
                f"{os.path.splitext(table.path)[1]}, for --mode=predict)"
            )
        flags = ("--text_a_column", "--text_b_column", "--label_column")
        a, b = (table.column(n, f, DataError) for n, f in zip((a, b), flags))
        return Columns(a, b, table.column(y, flags[2], DataError) if labelled else None)

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


def tsv_task(data_dir, text_a_column, text_b_column=None, label_column="label", labels=None):
    """A task over the user's own ``train``/``dev``/``test`` .tsv or .csv files with a
    header. Columns are looked up by name in each file's header; the label set is
    ``labels``, else the train file's (read as its rows are, :func:`read_table`). A test
    file with the label column is scored beside dev; one without it is only predicted."""
    if not data_dir or not os.path.isdir(data_dir):
        raise DataError(f"--data_dir: folder not found: {data_dir}")
    extension = ".csv" if os.path.isfile(os.path.join(data_dir, "train.csv")) else ".tsv"
    delimiter = "," if extension == ".csv" else "\t"
    train = os.path.join(data_dir, "train" + extension)
    if not os.path.isfile(train):
        raise DataError(f"tsv task: {data_dir} has no train.tsv or train.csv")
    table = read_table(train, delimiter)
    header = table.header
    names = (text_a_column or header[0], text_b_column, label_column or "label")
    flags = ("--text_a_column", "--text_b_column", "--label_column")
    a, b, y = (table.column(n, f) for n, f in zip(names, flags))
    # Digits name positions; from here on every file is read by the train file's names.
    names = tuple(None if i is None else header[i] for i in (a, b, y))
    if labels is None:
        labels = sorted({row[y] for row in table.rows})
    dev_files = (("dev", "dev" + extension),)
    test = os.path.join(data_dir, "test" + extension)
    test_files = (("test", "test" + extension),) if os.path.isfile(test) else ()
    if test_files and names[2] in read_table(test, delimiter).header:
        dev_files += test_files  # a labelled test split is scored beside dev
    return Task(
        "tsv",
        os.path.basename(os.path.normpath(data_dir)),
        tuple(labels),
        "accuracy",
        Columns(a, b, y),
        Columns(a, b),
        dev_files=dev_files,
        test_files=test_files,
        train_file="train" + extension,
        delimiter=delimiter,
        test_has_index=False,
        column_names=names,
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
