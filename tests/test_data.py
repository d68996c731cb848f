"""The built-in data set and user CSVs: good input loads exactly, bad input gives one clear line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from repromatrix import data
from repromatrix.errors import DataError


def write_csv(path: Path, rows: list[list[str]], features: int = 3) -> Path:
    header = [f"f{i}" for i in range(features)] + ["target"]
    path.write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n", encoding="utf-8")
    return path


class TestBuiltin:
    def test_shape_and_target_range(self) -> None:
        """The built-in set has 1,000 rows, 41 features and a target strictly inside (0, 1)."""
        dataset = data.load_dataset()
        assert (dataset.rows, dataset.features) == (1000, 41)
        assert dataset.x.dtype == np.float32 and dataset.y.dtype == np.float32
        assert float(dataset.y.min()) > 0.0 and float(dataset.y.max()) < 1.0
        assert dataset.source == "builtin:report41.csv"

    def test_checksum_is_checked(self) -> None:
        """The recorded SHA-256 is the file's real hash, so a changed file cannot pass."""
        assert hashlib.sha256(data.BUILTIN_PATH.read_bytes()).hexdigest() == data.BUILTIN_SHA256

    def test_changed_file_is_refused(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A built-in file whose bytes changed is refused with its hash in the message."""
        copy = tmp_path / "report41.csv"
        copy.write_bytes(data.BUILTIN_PATH.read_bytes().replace(b"target", b"targer"))
        monkeypatch.setattr(data, "BUILTIN_PATH", copy)
        with pytest.raises(DataError, match="was changed"):
            data.load_dataset()

    def test_values_round_trip_exactly(self) -> None:
        """Each CSV cell reads back as the float32 the generator wrote (shortest repr)."""
        first = data.BUILTIN_PATH.read_text().splitlines()[1].split(",")
        dataset = data.load_dataset()
        assert [str(v) for v in dataset.x[0][:5]] == first[:5]

    def test_rows_keeps_the_first_rows(self) -> None:
        full, cut = data.load_dataset(), data.load_dataset(rows=10)
        assert cut.rows == 10 and np.array_equal(cut.x, full.x[:10])


class TestUserCsv:
    def test_loads_with_target_by_name_and_index(self, tmp_path: Path) -> None:
        """The target column can be named or given as a 0-based index, anywhere in the table."""
        path = tmp_path / "mine.csv"
        path.write_text("target,a,b,c\n0.5,1,2,3\n0.25,4,5,6\n")
        by_name = data.load_dataset(str(path), target="target", features=3)
        by_index = data.load_dataset(str(path), target="0", features=3)
        assert by_name.y.tolist() == [0.5, 0.25] == by_index.y.tolist()
        assert by_name.x.tolist() == [[1, 2, 3], [4, 5, 6]]
        assert by_name.source == "mine.csv" and by_name.target == "target"

    @pytest.mark.parametrize(
        ("rows", "message"),
        [
            ([["1", "2", "x", "0.5"]], r"mine.csv:2: column 'f2' is not a number: 'x'"),
            ([["1", "2", "3", "0.5"], ["1", "nan", "3", "0.5"]], r"mine.csv:3: column 'f1' is nan"),
            ([["1", "inf", "3", "0.5"]], r"is inf, expected a finite number"),
            ([["1", "2", "0.5"]], r"mine.csv:2: 3 cells, expected 4"),
            ([], r"a header but no data rows"),
        ],
    )
    def test_bad_cells(self, tmp_path: Path, rows: list[list[str]], message: str) -> None:
        """Non-numeric cells, NaN, infinities and ragged rows name the file, line and column."""
        path = write_csv(tmp_path / "mine.csv", rows)
        with pytest.raises(DataError, match=message):
            data.load_dataset(str(path), features=3)

    def test_wrong_column_count(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "mine.csv", [["1", "2", "0.5"]], features=2)
        with pytest.raises(DataError, match=r"3 columns, expected 42 \(41 features and the target"):
            data.load_dataset(str(path))

    def test_line_numbers_count_blank_lines(self, tmp_path: Path) -> None:
        """The reported line is the file's real line, blank lines included."""
        path = tmp_path / "mine.csv"
        path.write_text("f0,f1,f2,target\n\n1,2,3,0.5\n\n1,x,3,0.5\n")
        with pytest.raises(DataError, match=r"mine.csv:5: column 'f1' is not a number"):
            data.load_dataset(str(path), features=3)

    def test_missing_file_and_folder(self, tmp_path: Path) -> None:
        with pytest.raises(DataError, match="no such data file"):
            data.load_dataset(str(tmp_path / "absent.csv"))
        with pytest.raises(DataError, match="is a folder"):
            data.load_dataset(str(tmp_path))

    def test_unknown_target_and_index(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "mine.csv", [["1", "2", "3", "0.5"]])
        with pytest.raises(DataError, match="no target column 'y'"):
            data.load_dataset(str(path), target="y", features=3)
        with pytest.raises(DataError, match="target column 9 is out of range"):
            data.load_dataset(str(path), target=9, features=3)

    def test_not_utf8_and_empty(self, tmp_path: Path) -> None:
        path = tmp_path / "bin.csv"
        path.write_bytes(b"\xff\xfe\x00a")
        with pytest.raises(DataError, match="not UTF-8"):
            data.load_dataset(str(path), features=3)
        path.write_bytes(b"")
        with pytest.raises(DataError, match="empty file"):
            data.load_dataset(str(path), features=3)
