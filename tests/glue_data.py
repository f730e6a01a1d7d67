"""Tiny GLUE folders written in the official layouts (headers, columns, file names)."""

import os

ROWS = 8


def _write(path, lines):
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _sentence(i, word):
    return f"the {word} number {i} is {'good' if i % 2 else 'bad'} today"


def write_glue_task(root, folder):
    """Writes train/dev/test files of one GLUE task; returns its directory."""
    d = os.path.join(root, folder)
    os.makedirs(d, exist_ok=True)
    n = range(ROWS)
    if folder == "CoLA":
        for split in ("train", "dev"):
            _write(f"{d}/{split}.tsv", [f"gj04\t{i % 2}\t\t{_sentence(i, 'cat')}" for i in n])
        _write(f"{d}/test.tsv", ["index\tsentence"] + [f"{i}\t{_sentence(i, 'dog')}" for i in n])
    elif folder == "SST-2":
        for split in ("train", "dev"):
            _write(
                f"{d}/{split}.tsv",
                ["sentence\tlabel"] + [f"{_sentence(i, 'film')}\t{i % 2}" for i in n],
            )
        _write(f"{d}/test.tsv", ["index\tsentence"] + [f"{i}\t{_sentence(i, 'show')}" for i in n])
    elif folder == "MRPC":
        head = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String"
        for split in ("train", "dev"):
            _write(
                f"{d}/{split}.tsv",
                [head]
                + [
                    f"{i % 2}\t{100 + i}\t{200 + i}\t{_sentence(i, 'a')}\t"
                    f"{_sentence(i + i % 2, 'b')}"
                    for i in n
                ],
            )
        _write(
            f"{d}/test.tsv",
            ["index\t#1 ID\t#2 ID\t#1 String\t#2 String"]
            + [f"{i}\t{100 + i}\t{200 + i}\t{_sentence(i, 'a')}\t{_sentence(i, 'c')}" for i in n],
        )
    elif folder == "STS-B":
        head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2"
        for split in ("train", "dev"):
            _write(
                f"{d}/{split}.tsv",
                [head + "\tscore"]
                + [
                    f"{i}\tmain-news\tf\t2012\t{i}\tnone\tnone\t{_sentence(i, 'x')}\t"
                    f"{_sentence(i, 'y')}\t{i * 5 / (ROWS - 1):.3f}"
                    for i in n
                ],
            )
        _write(
            f"{d}/test.tsv",
            [head]
            + [
                f"{i}\tmain-news\tf\t2012\t{i}\tnone\tnone\t{_sentence(i, 'x')}\t"
                f"{_sentence(i, 'z')}"
                for i in n
            ],
        )
    elif folder == "QQP":
        for split in ("train", "dev"):
            _write(
                f"{d}/{split}.tsv",
                ["id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate"]
                + [
                    f"{i}\t{2 * i}\t{2 * i + 1}\t{_sentence(i, 'q')}?\t"
                    f"{_sentence(i, 'r')}?\t{i % 2}"
                    for i in n
                ],
            )
        _write(
            f"{d}/test.tsv",
            ["id\tquestion1\tquestion2"]
            + [f"{i}\t{_sentence(i, 'q')}?\t{_sentence(i, 's')}?" for i in n],
        )
    elif folder == "MNLI":
        labels = ["contradiction", "entailment", "neutral"]
        head = (
            "index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
            "sentence1_parse\tsentence2_parse\tsentence1\tsentence2"
        )

        def row(i, extra):
            return (
                f"{i}\t{i}\t{i}e\tfiction\t( a )\t( b )\t(ROOT a)\t(ROOT b)\t"
                f"{_sentence(i, 'p')}\t{_sentence(i, 'h')}{extra}"
            )

        _write(
            f"{d}/train.tsv",
            [head + "\tlabel1\tgold_label"]
            + [row(i, f"\t{labels[i % 3]}\t{labels[i % 3]}") for i in n],
        )
        for split in ("dev_matched", "dev_mismatched"):
            columns = "\tlabel1\tlabel2\tlabel3\tlabel4\tlabel5\tgold_label"
            _write(
                f"{d}/{split}.tsv",
                [head + columns] + [row(i, ("\t" + labels[i % 3]) * 6) for i in n],
            )
        for split in ("test_matched", "test_mismatched"):
            _write(f"{d}/{split}.tsv", [head] + [row(i, "") for i in n])
    else:  # QNLI, RTE, WNLI share a layout
        labels = {
            "QNLI": ["entailment", "not_entailment"],
            "RTE": ["entailment", "not_entailment"],
            "WNLI": ["0", "1"],
        }[folder]
        first = "question" if folder == "QNLI" else "sentence1"
        second = "sentence" if folder == "QNLI" else "sentence2"
        for split in ("train", "dev"):
            _write(
                f"{d}/{split}.tsv",
                [f"index\t{first}\t{second}\tlabel"]
                + [f"{i}\t{_sentence(i, 'u')}\t{_sentence(i, 'v')}\t{labels[i % 2]}" for i in n],
            )
        _write(
            f"{d}/test.tsv",
            [f"index\t{first}\t{second}"]
            + [f"{i}\t{_sentence(i, 'u')}\t{_sentence(i, 'w')}" for i in n],
        )
    return d
