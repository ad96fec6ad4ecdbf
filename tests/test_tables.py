"""bam.tables.text_table: the one plain-text table of the package."""

import pytest

from bam.tables import text_table


def test_columns_are_as_wide_as_their_widest_cell_first_left_then_right():
    table = text_table(["name", "runs"], [["ResNet-20", "3"], ["+ BAM", "12"]])
    assert table.splitlines() == [
        "name       runs",
        "---------  ----",
        "ResNet-20     3",
        "+ BAM        12",
    ]


def test_least_widths_a_gap_an_unbroken_rule_and_an_indent():
    table = text_table(
        ["a", "b", "c"], [["x", "y", "1.5"]], left=2, widths=(3, 4), gap=1, rule="line"
    )
    assert table.splitlines() == ["a   b      c", "------------", "x   y    1.5"]
    assert text_table(["a"], [["b"]], indent=2).splitlines() == ["  a", "  -", "  b"]


def test_a_row_of_the_wrong_length_or_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="2 cells for 3 columns"):
        text_table(["a", "b", "c"], [["1", "2"]])
    with pytest.raises(ValueError, match="rule must be"):
        text_table(["a"], [["1"]], rule="dots")
