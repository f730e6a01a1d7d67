import os

import pytest

from tfmodels.atomic import atomic_path, atomic_write


def _leftovers(directory):
    return [n for n in os.listdir(directory) if ".tmp" in n]


def test_atomic_write_renames_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with atomic_write(str(target)) as f:
        f.write("new ü")
        assert target.read_text() == "old"  # the real name is untouched while writing
    assert target.read_text(encoding="utf-8") == "new ü"
    assert not _leftovers(tmp_path)


def test_atomic_write_binary(tmp_path):
    target = tmp_path / "out.bin"
    with atomic_write(str(target), "wb") as f:
        f.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert not _leftovers(tmp_path)


def test_atomic_write_error_keeps_target_and_removes_temporary(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(str(target)) as f:
            f.write("partial")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert not _leftovers(tmp_path)


def test_atomic_write_error_creates_nothing(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_write(str(tmp_path / "new.txt")):
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_atomic_path_file_success_and_error(tmp_path):
    target = tmp_path / "data.bin"
    with atomic_path(str(target)) as tmp:
        assert ".tmp" in os.path.basename(tmp) and tmp != str(target)
        with open(tmp, "wb") as f:
            f.write(b"one")
    assert target.read_bytes() == b"one"
    with pytest.raises(ValueError):
        with atomic_path(str(target)) as tmp:
            with open(tmp, "wb") as f:
                f.write(b"two")
            raise ValueError
    assert target.read_bytes() == b"one"
    assert not _leftovers(tmp_path)


def test_atomic_path_directory_success_and_error(tmp_path):
    target = tmp_path / "export"
    with atomic_path(str(target)) as tmp:
        os.makedirs(os.path.join(tmp, "variables"))
        with open(os.path.join(tmp, "variables", "v.data"), "w") as f:
            f.write("x")
    assert (target / "variables" / "v.data").read_text() == "x"
    with pytest.raises(OSError):
        with atomic_path(str(target)) as tmp:
            os.makedirs(os.path.join(tmp, "variables"))
            raise OSError("disk full")
    assert (target / "variables" / "v.data").read_text() == "x"
    assert not _leftovers(tmp_path)


def test_atomic_path_keeps_suffix(tmp_path):
    target = tmp_path / "curves.png"
    with atomic_path(str(target), suffix=".png") as tmp:
        assert tmp.endswith(".png") and ".tmp" in tmp
        open(tmp, "w").close()
    assert target.exists()
    assert not _leftovers(tmp_path)
