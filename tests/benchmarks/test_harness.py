"""The benchmark table says what each clock measures, so an in-process figure is never read as a launch."""

from __future__ import annotations

import io

import pytest

from benchmarks.harness import CLOCKS, Row, benchmark, print_table


def test_each_row_names_its_clock_and_the_table_explains_it() -> None:
    rows = [Row("screen: launch → first rows", "≤ 0.6×", "ok", clock="screen", ours=0.5, baseline=0.4,
                ratio=1.25, passed=False),
            Row("sqlite open → first page", "≤ 1.5×", "ok", ours=0.001, baseline=0.001, ratio=1.0,
                passed=True)]
    out = io.StringIO()
    print_table(rows, out)
    lines = out.getvalue().splitlines()
    assert lines[0].split(" | ")[1].strip() == "clock"
    assert [line.split(" | ")[1].strip() for line in lines[2:4]] == ["screen", "in-process"]
    assert f"clock screen: {CLOCKS['screen']}" in lines
    assert f"clock in-process: {CLOCKS['in-process']}" in lines
    assert "clock process:" not in out.getvalue()  # only the clocks of the rows shown


def test_an_unknown_clock_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown clock"):
        benchmark("x", clock="wall")
