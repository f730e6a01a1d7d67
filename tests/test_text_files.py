"""tfmodels.text_files: the one reader of the users' data files (encoding, BOM, line ends,
quoting, width, empty files) and its file:line messages."""

import pytest

from tfmodels import text_files
from tfmodels.errors import ConfigError, DataError
from tfmodels.tasks import conll, fewshot, glue, seq2seq, squad


def write(path, data):
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return str(path)


def test_a_bom_is_dropped_and_crlf_is_a_line_end(tmp_path):
    path = write(tmp_path / "t.tsv", "\ufefftext\tlabel\r\nfine film\tpos\r\n\r\nbad film\tneg\r\n")
    table = text_files.read_table(path)
    assert table.header == ["text", "label"]  # not "\ufefftext"
    assert table.rows == [["fine film", "pos"], ["bad film", "neg"]]
    assert table.lines == [2, 4]  # the blank line is skipped, numbers stay the file's
    assert text_files.read_lines(path)[0] == "text\tlabel"


def test_not_utf8_names_the_file_line_and_byte(tmp_path):
    path = write(tmp_path / "latin1.tsv", "text\tlabel\ncaf\xe9\tpos\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.tsv:2: not UTF-8 text \(byte 0xe9 at byte 4 "):
        text_files.read_table(path)
    with pytest.raises(ConfigError, match=r"latin1\.tsv:2: not UTF-8"):
        text_files.read_text(path, ConfigError)


def test_binary_and_overlong_lines_are_refused(tmp_path, monkeypatch):
    with pytest.raises(DataError, match=r"bin\.tsv:2: a NUL character: not a text file"):
        text_files.read_lines(write(tmp_path / "bin.tsv", "a\tb\nx\x00y\tz\n"))
    monkeypatch.setattr(text_files, "MAX_LINE_CHARS", 10)
    path = write(tmp_path / "long.txt", "short\n" + "x" * 11 + "\n")
    with pytest.raises(DataError, match=r"long\.txt:2: a line of 11 characters, more than the 10"):
        text_files.read_lines(path)


def test_tsv_has_no_quoting_csv_has_rfc4180_quoting(tmp_path):
    tsv = write(tmp_path / "q.tsv", 'text\tlabel\n"a quote\tpos\nsays "hi"\tneg\n')
    assert text_files.read_table(tsv).rows == [['"a quote', "pos"], ['says "hi"', "neg"]]
    csv_path = write(
        tmp_path / "q.csv", 'text,label\n"one, two",pos\n"say ""hi""\nand go",neg\nlast,pos\n'
    )
    table = text_files.read_table(csv_path)
    assert table.rows == [["one, two", "pos"], ['say "hi"\nand go', "neg"], ["last", "pos"]]
    assert table.lines == [2, 3, 5]  # a quoted field spanning lines: its first line


def test_width_empty_and_header_only(tmp_path):
    path = write(tmp_path / "w.tsv", "a\tb\tc\n1\t2\t3\n1\t2\n")
    with pytest.raises(
        DataError, match=r"w\.tsv:3: expected 3 columns \(tab-separated: a, b, c\), found 2"
    ):
        text_files.read_table(path)
    with pytest.raises(DataError, match=r"e\.tsv: the file is empty"):
        text_files.read_table(write(tmp_path / "e.tsv", "\n\n"))
    with pytest.raises(DataError, match=r"h\.tsv: only a header line \(a, b\), no rows"):
        text_files.read_table(write(tmp_path / "h.tsv", "\ufeffa\tb\r\n"))
    no_header = text_files.read_table(write(tmp_path / "n.tsv", "1\t2\n3\t4\n"), header=False)
    assert no_header.header is None and no_header.rows == [["1", "2"], ["3", "4"]]
    # A predicate decides whether the first row is a header.
    pairs = write(tmp_path / "p.tsv", "source\ttarget\na\tb\n")
    table = text_files.read_table(pairs, header=lambda row: row == ["source", "target"])
    assert table.header == ["source", "target"] and table.rows == [["a", "b"]]


def test_columns_by_name_or_index(tmp_path):
    table = text_files.read_table(write(tmp_path / "c.tsv", "text\tlabel\nx\ty\n"))
    assert table.column("label", "--label_column") == 1
    assert table.column("0", "--text_a_column") == 0 and table.column(None, "--x") is None
    with pytest.raises(ConfigError, match=r"--label_column='y': no such column .*text, label"):
        table.column("y", "--label_column")


def test_json_and_json_lines(tmp_path):
    assert text_files.read_json(write(tmp_path / "a.json", '\ufeff{"a": 1}')) == {"a": 1}
    with pytest.raises(DataError, match=r"b\.json:2: not valid JSON: Expecting"):
        text_files.read_json(write(tmp_path / "b.json", '{"a": 1,\n}'))
    with pytest.raises(DataError, match=r"c\.json: the file is empty"):
        text_files.read_json(write(tmp_path / "c.json", ""))
    lines = write(tmp_path / "d.jsonl", '\ufeff{"a": 1}\r\n\r\n{"a": 2}\n')
    assert text_files.read_json_lines(lines) == [(1, {"a": 1}), (3, {"a": 2})]
    with pytest.raises(DataError, match=r"e\.jsonl:2: not a JSON object"):
        text_files.read_json_lines(write(tmp_path / "e.jsonl", '{"a": 1}\n{\n'))


def test_every_reader_of_the_tasks_shares_these_rules(tmp_path):
    """A BOM and CRLF everywhere: GLUE/TSV tasks (header, inferred labels and rows alike),
    CoNLL, seq2seq pairs, SQuAD JSON and few-shot items."""
    data = tmp_path / "tsv"
    data.mkdir()
    write(data / "train.tsv", '\ufefftext\tlabel\r\n"quoted\tpos\r\nplain\tneg\r\n')
    write(data / "dev.tsv", "\ufefflabel\ttext\r\nneg\tx\r\n")  # other column order
    task = glue.get_task("tsv", str(data))
    assert task.labels == ("neg", "pos")  # inferred by the reader the rows use
    train = task.read(str(data), "train.tsv")
    assert train.text_a == ['"quoted', "plain"] and train.labels.tolist() == [1, 0]
    assert task.read(str(data), "dev.tsv").text_a == ["x"]

    tags = write(tmp_path / "train.txt", "\ufeff-DOCSTART- O\r\n\r\nJohn B-PER\r\nran O\r\n")
    assert [s.tags for s in conll.read_conll(tags)] == [["B-PER", "O"]]
    pairs = write(tmp_path / "train.jsonl", '\ufeff{"source": "a", "target": "b"}\r\n')
    assert seq2seq.read_pairs(pairs).sources == ["a"]
    squad_file = write(
        tmp_path / "s.json",
        '\ufeff{"data": [{"paragraphs": [{"context": "Ann ran.", "qas": [{"id": "q", '
        '"question": "Who?", "answers": [{"text": "Ann", "answer_start": 0}]}]}]}]}\r\n',
    )
    assert squad.read_squad(squad_file)[0][0].answers == [("Ann", 0)]
    items = write(tmp_path / "f.tsv", "\ufeffcontext\tlabel\r\nIs it?\tyes\r\n")
    assert fewshot.read_items(items, ["yes", "no"])[0].label == 0


def test_a_tsv_dev_file_without_the_label_column_is_refused_when_read(tmp_path):
    data = tmp_path / "tsv"
    data.mkdir()
    write(data / "train.tsv", "text\tlabel\na\tx\nb\ty\n")
    write(data / "dev.tsv", "text\na\n")
    write(data / "test.tsv", "text\nc\n")  # unlabelled: predicted, not scored
    task = glue.get_task("tsv", str(data))
    assert task.dev_files == (("dev", "dev.tsv"),) and task.test_files == (("test", "test.tsv"),)
    assert task.read(str(data), "test.tsv", labelled=False).text_a == ["c"]
    with pytest.raises(DataError, match=r"dev\.tsv: no label column 'label' \(columns: text\)"):
        task.read(str(data), "dev.tsv")
    write(data / "test.tsv", "text\tlabel\nc\tx\n")  # labelled: scored beside dev
    assert glue.get_task("tsv", str(data)).dev_files[1] == ("test", "test.tsv")
