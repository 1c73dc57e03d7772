"""Every way a file can be unreadable becomes a DataError with a hint."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlstack_core.errors import DataError
from mlstack_training.loading import TableReader


def read(path: Path) -> pd.DataFrame:
    return TableReader(path).read()


def test_csv_tsv_and_parquet_are_read(tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.5, None], "b": ["x", "y"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    frame.to_parquet(tmp_path / "d.parquet")
    for name in ("d.csv", "d.tsv", "d.parquet"):
        pd.testing.assert_frame_equal(read(tmp_path / name), frame)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "bom.csv").write_bytes("a,b\n1,é\n".encode("utf-8-sig"))
    assert list(read(tmp_path / "bom.csv").columns) == ["a", "b"]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "is empty"),
        ("latin1.csv", "a,b\n1,caf\xe9\n".encode("latin-1"), "is not UTF-8"),
        ("header.csv", b"a,b\n", "has no rows"),
        ("ragged.csv", b"a,b\n1,2\n1,2,3,4\n", "cannot be parsed as CSV"),
        ("dupes.csv", b"a,b,a\n1,2,3\n", "duplicate column names: 'a'"),
        ("broken.parquet", b"PAR1 not really", "cannot be read as Parquet"),
        ("data.xlsx", b"PK", "unknown file type"),
    ],
)
def test_unreadable_files_are_refused(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as caught:
        read(path)
    assert message in caught.value.cause
    assert caught.value.hint


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        read(tmp_path / "nope.csv")
