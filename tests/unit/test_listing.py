"""The list machinery (lims.web.listing): paging arithmetic, sort keys, export encodings."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from lims.errors import InvalidInput
from lims.web import listing


def test_page_arithmetic() -> None:
    page = listing.Page(items=list(range(50)), total=120, page=3, per_page=50, sort="-id")
    assert page.pages == 3 and page.has_previous and not page.has_next
    assert page.first_index == 101 and page.last_index == 150
    empty = listing.Page(items=[], total=0, page=1, per_page=50, sort="id")
    assert empty.pages == 1 and empty.first_index == 0 and not empty.has_next
    assert page.api() == {"total": 120, "page": 3, "limit": 50, "pages": 3}


@pytest.mark.parametrize(("args", "field"), [
    ({"page": "x"}, "page"), ({"page": "0"}, "page"), ({"limit": "100000"}, "limit"),
    ({"limit": "-1"}, "limit"), ({"sort": "password"}, "sort")])
def test_bad_paging_arguments_name_their_field(args: dict[str, str], field: str) -> None:
    def parse() -> None:
        listing.whole_number(args, "page", 1, low=1, high=10)
        listing.whole_number(args, "limit", 50, low=1, high=listing.MAX_PER_PAGE)
        listing.sort_key(args, {"id": None}, "id")

    with pytest.raises(InvalidInput) as caught:
        parse()
    assert caught.value.field == field


def test_like_takes_wildcards_literally() -> None:
    assert listing.like("50%_a\\b") == "%50\\%\\_a\\\\b%"


def test_csv_has_a_bom_and_defuses_formulas() -> None:
    text = "".join(listing._csv(["名称", "值"], [["湖北电缆", "=HYPERLINK(1)"], ["x", "-1.5"]]))
    assert text.startswith("\ufeff名称,值\r\n")
    assert "'=HYPERLINK(1)" in text and ",-1.5" in text


def test_xlsx_round_trips_chinese_and_numbers() -> None:
    data = listing._xlsx(["名称", "数"], [["湖北电缆", 3], ["=1+1", "2"]], "samples")
    sheet = load_workbook(io.BytesIO(data)).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows == [["名称", "数"], ["湖北电缆", 3], ["'=1+1", "2"]]


def test_csv_defuses_formulas_led_by_a_tab_or_carriage_return() -> None:
    # OWASP CSV injection: spreadsheets skip a leading tab or CR and then run "=…".
    text = "".join(listing._csv(["a"], [["\t=cmd|' /C calc'!A0"], ["\r@SUM(1)"]]))
    assert "'\t=cmd" in text and "'\r@SUM(1)" in text
