"""The users' data files, read one way: encoding, line ends, quoting, and file:line errors.

Every text data file a script reads (GLUE/TSV/CSV tables, CoNLL token lines, source ->
target pairs, JSON Lines, SQuAD JSON, few-shot items) goes through this module:

- UTF-8 only: a byte that is not UTF-8 is a :class:`DataError` naming file:line and the
  byte, not a ``UnicodeDecodeError``. A byte-order mark at the start (Excel and Notepad
  write one) is dropped, so a header's first column is ``label``, not ``\\ufefflabel``;
- ``\\n`` and ``\\r\\n`` line ends alike;
- a NUL character (a binary file) or a line longer than :data:`MAX_LINE_CHARS`
  (a file without line breaks) is refused with its file:line;
- tables (:func:`read_table`): a tab-separated file has no quoting (a ``"`` is text;
  GLUE's files hold unbalanced ones), a comma-separated one has CSV's (RFC 4180:
  ``"a, b"`` is one field, ``""`` a quote, and a quoted field may span lines). The
  header, the rows and whatever is inferred from them (a TSV task's label set) are read
  by the same function, so they agree. Every row must have the header's width; an empty
  file, or a header with no rows, is refused.
"""

import csv
import dataclasses
import json
import os
from typing import Callable, List, Optional, Union

from tfmodels.errors import ConfigError, DataError

csv.field_size_limit(2**31 - 1)  # long lines are refused by MAX_LINE_CHARS instead

# The longest line a data file may have: a sentence, a passage or a JSON Lines record
# is far shorter; a longer "line" is a file without line breaks (or not a text file).
MAX_LINE_CHARS = 1_000_000


def read_text(path, error=DataError):
    """The text of the UTF-8 file ``path``, without a leading byte-order mark; ``error``
    is the exception class of the messages (``ConfigError`` for a config file)."""
    if not os.path.isfile(path):
        raise error(f"file not found: {path}")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise error(f"{path}: cannot read: {e.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - data.rfind(b"\n", 0, e.start)
        raise error(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x} at byte {column} "
            "of the line); save the file as UTF-8"
        ) from None
    return text[1:] if text.startswith("\ufeff") else text


def split_lines(text, path, max_chars=None):
    """``text``'s lines without their ends (``\\n`` or ``\\r\\n``); a NUL character or a
    line over ``max_chars`` (default :data:`MAX_LINE_CHARS`) is an error at its line."""
    max_chars = MAX_LINE_CHARS if max_chars is None else max_chars
    nul = text.find("\x00")
    if nul >= 0:
        raise DataError(
            f"{path}:{text.count(chr(10), 0, nul) + 1}: a NUL character: not a text file"
        )
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = lines[number - 1] = line[:-1]
        if len(line) > max_chars:
            raise DataError(
                f"{path}:{number}: a line of {len(line):,} characters, more than the "
                f"{max_chars:,} a data line may have (a file without line breaks?)"
            )
    return lines


def read_lines(path):
    """The lines of the UTF-8 text file ``path`` (see :func:`split_lines`)."""
    return split_lines(read_text(path), path)


def delimiter_of(path):
    """``,`` for a .csv file, else a tab."""
    return "," if str(path).lower().endswith(".csv") else "\t"


def separated(delimiter):
    return {"\t": "tab", ",": "comma"}.get(delimiter, repr(delimiter))


@dataclasses.dataclass
class Table:
    """A TSV/CSV file's header (None without one), rows (lists of fields, all of one
    width) and the line each row starts on."""

    path: str
    header: Optional[List[str]]
    rows: List[List[str]]
    lines: List[int]
    delimiter: str = "\t"

    def column(self, name, flag, error=ConfigError):
        """The index of column ``name`` (a header name, or a 0-based index); None for
        None. An unknown name is an ``error`` naming ``flag`` and the columns there are."""
        if name is None:
            return None
        header = self.header or []
        if name in header:
            return header.index(name)
        width = len(header) if self.header else len(self.rows[0])
        if str(name).isdigit() and int(name) < width:
            return int(name)
        raise error(
            f"{flag}={name!r}: no such column in {self.path} "
            f"(columns: {', '.join(header) if header else f'0 to {width - 1}, no header'})"
        )


def _blank(row):
    return not row or (len(row) == 1 and not row[0].strip())


def read_table(
    path,
    delimiter=None,
    header: Union[bool, Callable] = True,
    width=None,
    names=None,
):
    """The :class:`Table` of a TSV/CSV file (quoting: see the module docstring).

    ``header``: True, the first non-blank line names the columns; False, there is none;
    or a predicate on the first row that says whether it is one. Every row must have
    ``width`` fields (default: the header's, else the first row's); ``names`` (the
    columns' names, for the message) default to the header. Blank lines are skipped.
    An empty file, or a header without rows, is a DataError.
    """
    delimiter = delimiter or delimiter_of(path)
    lines = read_lines(path)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.reader((line + "\n" for line in lines), delimiter=delimiter, quoting=quoting)
    head, rows, starts, start = None, [], [], 1
    try:
        for row in reader:
            if not _blank(row):
                if head is None and not rows and (header(row) if callable(header) else header):
                    head = [name.strip() for name in row]
                else:
                    rows.append(row)
                    starts.append(start)
            start = reader.line_num + 1
    except csv.Error as e:
        raise DataError(f"{path}:{start}: {e}") from None
    if head is None and not rows:
        raise DataError(f"{path}: the file is empty")
    if not rows:
        raise DataError(f"{path}: only a header line ({', '.join(head)}), no rows of data")
    width = width or (len(head) if head is not None else len(rows[0]))
    names = names or head
    for row, line in zip(rows, starts):
        if len(row) != width:
            raise DataError(
                f"{path}:{line}: expected {width} columns ({separated(delimiter)}-separated"
                f"{': ' + ', '.join(names) if names else ''}), found {len(row)}"
            )
    return Table(path, head, rows, starts, delimiter)


def read_json(path):
    """The JSON value in ``path``; a syntax error names its line."""
    text = read_text(path)
    if not text.strip():
        raise DataError(f"{path}: the file is empty (expected JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}:{e.lineno}: not valid JSON: {e.msg} (column {e.colno})") from None


def read_json_lines(path):
    """``[(line number, value)]`` of a JSON Lines file (blank lines skipped)."""
    out = []
    for number, line in enumerate(read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            out.append((number, json.loads(line)))
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{number}: not a JSON object: {e.msg}") from None
    if not out:
        raise DataError(f"{path}: the file is empty (expected one JSON object a line)")
    return out
