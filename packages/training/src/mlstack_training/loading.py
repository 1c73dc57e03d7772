"""Reading a user's CSV or Parquet file, turning every way it can be unreadable into a DataError."""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pandas as pd

from mlstack_core.errors import DataError

CSV_SUFFIXES = {".csv", ".tsv", ".txt"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


class TableReader:
    """Reads one tabular file (CSV/TSV or Parquet) into a DataFrame."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> pd.DataFrame:
        path = self.path
        if not path.exists():
            raise DataError(f"data file {path} does not exist", "check the path passed to --data")
        if not path.is_file():
            raise DataError(f"{path} is not a file", "pass a CSV or Parquet file to --data")
        if path.stat().st_size == 0:
            raise DataError(f"data file {path} is empty", "pass a file with a header and rows")
        suffix = path.suffix.lower()
        if suffix in PARQUET_SUFFIXES:
            frame = self._parquet()
        elif suffix in CSV_SUFFIXES:
            frame = self._csv()
        else:
            raise DataError(
                f"cannot read {path}: unknown file type {suffix or '(none)'}",
                "use .csv, .tsv or .parquet",
            )
        if frame.empty:
            raise DataError(f"data file {path} has no rows", "pass a file with data rows")
        return frame

    def _csv(self) -> pd.DataFrame:
        path = self.path
        sep = "\t" if path.suffix.lower() == ".tsv" else ","
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                header = next(csv.reader(handle, delimiter=sep), [])
            frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", low_memory=False)
        except UnicodeDecodeError as exc:
            raise DataError(
                f"data file {path} is not UTF-8 text (byte {exc.start}: {exc.reason})",
                "save it as UTF-8 CSV, or convert it to Parquet",
            ) from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"data file {path} cannot be parsed as CSV: {first}",
                "check the delimiter, quoting and that every row has the same number of fields",
            ) from None
        self._refuse_duplicates(header)
        return frame

    def _parquet(self) -> pd.DataFrame:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            self._refuse_duplicates(pq.read_schema(self.path).names)
            return pd.read_parquet(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(
                f"data file {self.path} cannot be read as Parquet: {exc}",
                "check that it is a complete Parquet file",
            ) from None

    def _refuse_duplicates(self, names: list[str]) -> None:
        duplicated = sorted(name for name, n in Counter(names).items() if n > 1)
        if duplicated:
            raise DataError(
                f"data file {self.path} has duplicate column names: "
                f"{', '.join(map(repr, duplicated))}",
                "give every column a unique name",
            )
