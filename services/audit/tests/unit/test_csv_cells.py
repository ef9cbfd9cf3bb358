"""What a CSV cell of the export may hold: text a spreadsheet would run as a formula is quoted."""

from __future__ import annotations

import pytest
from isp_audit.domain.export import csv_cell


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@cmd", "'@cmd"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("safeguarding", "safeguarding"),
        ("a=1", "a=1"),
        ("", ""),
        (None, ""),
        (True, "true"),
        (7, "7"),
        (["=x"], '["=x"]'),
        ({"kind": "consent"}, '{"kind":"consent"}'),
    ],
)
def test_a_csv_cell(value, cell):
    assert csv_cell(value) == cell
