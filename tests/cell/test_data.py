"""The built-in data set and user CSVs: good input loads exactly, bad input gives one clear line."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from repromatrix.cell import data
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


class TestCsvValuesTheModelCannotUse:
    """Issue 9, point 4: values that passed the checks and then trained to NaN or the wrong column."""

    @pytest.mark.parametrize(("cell", "column"), [("1e39", "f1"), ("-3.5e38", "f1")])
    def test_float32_overflow_names_the_cell(self, tmp_path: Path, cell: str, column: str) -> None:
        """Finite as float64, infinite as the float32 the model trains on."""
        path = write_csv(tmp_path / "mine.csv", [["1", "2", "3", "0.5"], ["1", cell, "3", "0.5"]])
        with pytest.raises(DataError, match=rf"mine.csv:3: column '{column}' is {cell}, beyond "
                           r"float32's range \(largest 3.4028235e\+38\)"):
            data.load_dataset(str(path), features=3)

    def test_float32_overflow_in_the_target(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "mine.csv", [["1", "2", "3", "4e38"]])
        with pytest.raises(DataError, match=r"mine.csv:2: column 'target' is 4e38"):
            data.load_dataset(str(path), features=3)

    def test_largest_float32_is_accepted(self, tmp_path: Path) -> None:
        path = write_csv(tmp_path / "mine.csv", [["1", "3.4028235e38", "3", "0.5"]])
        assert data.load_dataset(str(path), features=3).x[0, 1] == np.finfo(np.float32).max

    def test_two_columns_named_like_the_target(self, tmp_path: Path) -> None:
        """A feature column that shares the target's name must not silently become the target."""
        path = tmp_path / "mine.csv"
        path.write_text("target,f1,f2,target\n1,2,3,0.5\n", encoding="utf-8")
        with pytest.raises(DataError, match=r"2 columns are named 'target' \(columns 0, 3\)"):
            data.load_dataset(str(path), target="target", features=3)
        by_index = data.load_dataset(str(path), target=3, features=3)  # an index is unambiguous
        assert by_index.y.tolist() == [0.5]

    @pytest.mark.parametrize("target", ["-1", -1, "-0004"])
    def test_negative_index_is_refused_as_in_the_matrix(self, tmp_path: Path,
                                                        target: str | int) -> None:
        path = write_csv(tmp_path / "mine.csv", [["1", "2", "3", "0.5"]])
        with pytest.raises(DataError, match="a column index starts at 0"):
            data.load_dataset(str(path), target=target, features=3)

    @pytest.mark.parametrize("target", ["\u00b2", "\u0663", "\uff11"])  # ², Arabic-Indic 3, fullwidth 1
    def test_non_ascii_digits_are_a_name_not_an_index(self, tmp_path: Path, target: str) -> None:
        """str.isdigit() takes them (and int('²') raises): only ASCII digits make an index."""
        path = write_csv(tmp_path / "mine.csv", [["1", "2", "3", "0.5"]])
        with pytest.raises(DataError, match=f"no target column '{target}'"):
            data.load_dataset(str(path), target=target, features=3)

    @pytest.mark.parametrize("features", [3, None])
    def test_semicolons_say_comma_separated(self, tmp_path: Path, features: int | None) -> None:
        path = tmp_path / "mine.csv"
        path.write_text("f0;f1;f2;target\n1;2;3;0.5\n", encoding="utf-8")
        with pytest.raises(DataError, match="mine.csv: .*expected comma-separated values"):
            data.load_dataset(str(path), features=features)

    def test_any_feature_count_from_the_header(self, tmp_path: Path) -> None:
        """features=None (a user experiment): the header decides; one column is not enough."""
        path = write_csv(tmp_path / "mine.csv", [["1", "2", "0.5"]], features=2)
        assert data.load_dataset(str(path), features=None).features == 2
        path.write_text("target\n0.5\n", encoding="utf-8")
        with pytest.raises(DataError, match="expected a header with feature columns and a target"):
            data.load_dataset(str(path), features=None)
