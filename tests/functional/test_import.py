"""``lims import samples|instruments|customers``: legacy data checked row by row, written in one
transaction with a valid audit chain, on SQLite and PostgreSQL."""

from __future__ import annotations

import codecs
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook
from sqlalchemy import func, select

from lims.audit.models import AuditEvent, AuditHead
from lims.audit.services import verify_chain
from lims.auth.services import get_user
from lims.calibration.models import CalibrationRecord
from lims.db import unit_of_work
from lims.instruments.models import Instrument
from lims.samples import services as samples
from lims.samples.duplicates import credit_check_character
from lims.samples.models import Customer, Sample, SampleTest, TestRequest

YEAR = dt.date.today().year - 1  # noqa: DTZ011 - a past year in any zone


def code(body: str) -> str:
    """A unified social credit code with its check character."""
    return body + credit_check_character(body)


ACME_CODE = code("91420100MA4K12345")


def _cli(database_url: str, tmp_path: Path, *args: str) -> Any:
    from lims.cli import main

    env = {"LIMS_DATABASE_URL": database_url, "LIMS_INSTANCE_PATH": str(tmp_path / "inst"),
           "LIMS_SECRET_KEY": "x", "LIMS_CLI_USER": ""}
    return CliRunner().invoke(main, list(args), env=env)


def _csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    path.write_bytes("\r\n".join(",".join(r) for r in rows).encode(encoding) + b"\r\n")
    return path


def _count(session: Any, model: Any) -> int:
    session.rollback()  # a fresh snapshot: the command wrote through its own connection
    return int(session.scalar(select(func.count()).select_from(model)))


def _head(session: Any) -> int:
    session.rollback()
    return int(session.scalar(select(AuditHead.seq)) or 0)


SAMPLE_HEADER = ["样品编号", "委托编号", "委托单位", "样品名称", "状态", "收样日期", "报告日期",
                 "检验方法", "规格型号", "检验结论"]


def test_samples_import_keeps_numbers_and_chain(session, world, database_url, tmp_path):
    with unit_of_work(session):
        acme = session.get(Customer, world.customer_id)
        acme.credit_code = ACME_CODE
    before = _head(session)
    rows = [SAMPLE_HEADER,
            [f"YP{YEAR}-000007", f"WT{YEAR}-000003", "ACME Textiles", "涤纶布", "已出报告",
             f"{YEAR}/3/5", f"{YEAR}年3月20日", "GB/T 4669-2008", "200 g/m²", "合格"],
            [f"YP{YEAR}-000008", f"WT{YEAR}-000003", ACME_CODE, "棉布", "archived",
             f"{YEAR}-03-05", "", "", "", ""],
            ["OLD-0001", "OLD-WT-1", "ACME Textiles", "Legacy cloth", "received", "", "", "", "",
             ""]]
    path = tmp_path / "samples.csv"
    path.write_bytes(codecs.BOM_UTF8 + "\r\n".join(",".join(r) for r in rows).encode())
    out = _cli(database_url, tmp_path, "import", "samples", str(path), "--user", "tech")
    assert out.exit_code == 0, out.output
    assert "imported 3 samples" in out.output
    session.rollback()
    got = {s.number: s for s in session.scalars(select(Sample))}
    assert set(got) == {f"YP{YEAR}-000007", f"YP{YEAR}-000008", "OLD-0001"}
    first = got[f"YP{YEAR}-000007"]
    assert (first.status, first.model, first.conclusion) == ("reported", "200 g/m²", "合格")
    assert first.request.number == f"WT{YEAR}-000003"
    assert first.request is got[f"YP{YEAR}-000008"].request  # one request for both rows
    assert first.received_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date() == \
        dt.date(YEAR, 3, 5)
    assert first.sampled_on == dt.date(YEAR, 3, 5)
    assert [t.method_id for t in first.tests] == [world.method_id]
    assert got[f"YP{YEAR}-000008"].status == "reported"
    assert got["OLD-0001"].status == "received"
    assert _count(session, TestRequest) == 2
    # One event per record (2 requests, 3 samples), chained after what was there.
    events = session.scalars(select(AuditEvent).where(AuditEvent.seq > before)
                             .order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["request.import"] * 2 + ["sample.import"] * 3
    assert {e.actor for e in events} == {"tech"}
    assert '"status_as_recorded":"archived"' in events[3].after
    assert verify_chain(session).ok
    assert _cli(database_url, tmp_path, "audit", "verify").exit_code == 0
    # An ordinary event chains after the bulk ones.
    with unit_of_work(session):
        samples.create_customer(session, actor=get_user(session, "tech"), name="Later Ltd")
    assert verify_chain(session).ok


def test_registration_skips_imported_numbers(session, world, database_url, tmp_path):
    """The series of the configured format moves past the imported numbers."""
    year = dt.datetime.now(dt.UTC).year  # the series a registration today uses
    path = _csv(tmp_path / "s.csv", [["sample number", "request number", "customer",
                                      "sample name"],
                                     [f"YP{year}-000005", f"WT{year}-000002", "ACME Textiles",
                                      "cloth"]])
    assert _cli(database_url, tmp_path, "import", "samples", str(path), "--user",
                "tech").exit_code == 0
    session.rollback()
    with unit_of_work(session):
        tech = get_user(session, "tech")
        req = samples.create_request(session, actor=tech, customer_id=world.customer_id,
                                     number_format="WT{year}-{seq:06d}", timezone="Asia/Shanghai")
        sample = samples.register_sample(session, actor=tech, request_id=req.id,
                                         description="new", method_ids=[world.method_id],
                                         number_format="YP{year}-{seq:06d}",
                                         timezone="Asia/Shanghai")
    today_year = sample.number[2:6]
    if today_year == str(year):  # not across a new year's midnight in the lab's zone
        assert sample.number == f"YP{year}-000006"
        assert req.number == f"WT{year}-000003"


def test_errors_in_several_rows_write_nothing(session, world, database_url, tmp_path):
    with unit_of_work(session):
        tech = get_user(session, "tech")
        req = samples.create_request(session, actor=tech, customer_id=world.customer_id,
                                     number_format="WT{year}-{seq:06d}", timezone="Asia/Shanghai")
        existing = samples.register_sample(session, actor=tech, request_id=req.id,
                                           description="x", method_ids=[world.method_id],
                                           number_format="YP{year}-{seq:06d}",
                                           timezone="Asia/Shanghai").number
    before, count = _head(session), _count(session, Sample)
    rows = [SAMPLE_HEADER,
            ["A-1", "R-1", "ACME Textiles", "ok", "", "", "", "", "", ""],
            ["A-2", "R-1", "Nobody Ltd", "bad customer", "", "", "", "", "", ""],
            ["A-1", "R-2", "ACME Textiles", "dup in file", "", "", "", "", "", ""],
            [existing, "R-3", "ACME Textiles", "dup in db", "", "", "", "", "", ""],
            ["A-5", "R-4", "ACME Textiles", "", "lost", "2024-13-40", "", "NO-SUCH", "", ""],
            ["A-6", "R-5", "ACME Textiles", "future", "", "2199-01-01", "", "", "", ""]]
    path = _csv(tmp_path / "bad.csv", rows)
    out = _cli(database_url, tmp_path, "import", "samples", str(path), "--user", "tech")
    assert out.exit_code == 1, out.output
    text = out.output
    assert "row 3, 委托单位: no customer named or with the credit code Nobody Ltd" in text
    assert "row 4, 样品编号: sample number A-1 is also in row 2" in text
    assert f"row 5, 样品编号: sample {existing} exists already" in text
    assert "row 6, 样品名称: is required" in text
    assert "row 6, 状态: must be one of" in text
    assert "row 6, 收样日期:" in text and "is not a date" in text
    assert "row 6, 检验方法: no method NO-SUCH" in text
    assert "row 7, 收样日期: 2199-01-01 is in the future" in text
    assert "nothing was imported: 8 errors" in text
    assert "Traceback" not in text
    assert (_head(session), _count(session, Sample)) == (before, count)
    assert _count(session, TestRequest) == 1


def test_error_list_is_capped(session, world, database_url, tmp_path):
    rows = [["sample number", "request number", "customer", "sample name"]]
    rows += [[f"N-{i}", f"R-{i}", "Nobody", "x"] for i in range(70)]
    out = _cli(database_url, tmp_path, "import", "samples", str(_csv(tmp_path / "b.csv", rows)),
               "--user", "tech")
    assert out.exit_code == 1
    assert "… and 20 more errors" in out.output
    assert "nothing was imported: 70 errors" in out.output


def test_dry_run_writes_nothing(session, world, database_url, tmp_path):
    before = _head(session)
    path = _csv(tmp_path / "s.csv", [["sample number", "request number", "customer",
                                      "sample name"], ["D-1", "DR-1", "ACME Textiles", "x"]])
    out = _cli(database_url, tmp_path, "import", "samples", str(path), "--user", "tech",
               "--dry-run")
    assert out.exit_code == 0, out.output
    assert "is valid: 1 rows; nothing written" in out.output
    assert (_head(session), _count(session, Sample)) == (before, 0)


def test_customers_gb18030_with_credit_codes(session, world, database_url, tmp_path):
    good = code("91110000100000000")
    rows = [["委托单位", "统一社会信用代码", "联系人", "地址", "联系电话"],
            ["湖北某某纺织有限公司", good, "张三", "武汉市洪山区", "027-12345678"],
            ["武汉检测仪器厂", "", "李四", "", ""]]
    path = _csv(tmp_path / "c.csv", rows, encoding="gb18030")
    out = _cli(database_url, tmp_path, "import", "customers", str(path), "--user", "tech")
    assert out.exit_code == 0, out.output
    session.rollback()
    made = session.scalar(select(Customer).where(Customer.credit_code == good))
    assert (made.name, made.contact, made.address, made.name_initials) == (
        "湖北某某纺织有限公司", "张三", "武汉市洪山区", "hbmmfzyxgs")
    assert verify_chain(session).ok
    # Again: both are on record now; a bad check character and a repeat in the file too.
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    rows += [["ACME Textiles Co. Ltd.", bad, "", "", ""], ["新公司", "", "", "", ""],
             ["新公司", "", "", "", ""]]
    out = _cli(database_url, tmp_path, "import", "customers",
               str(_csv(tmp_path / "c2.csv", rows, encoding="gb18030")), "--user", "tech")
    assert out.exit_code == 1
    assert "row 2, 委托单位: customer 湖北某某纺织有限公司 is on record already" in out.output
    assert f"row 2, 统一社会信用代码: credit code {good} is on record already" in out.output
    assert "row 4, 委托单位: customer ACME Textiles is on record already" in out.output
    assert "row 4, 统一社会信用代码: the check character" in out.output, out.output
    assert "row 6, 委托单位: the same customer is in row 5" in out.output
    # --encoding names the encoding when guessing would be wrong; an unknown one is refused.
    out = _cli(database_url, tmp_path, "import", "customers", str(path), "--user", "tech",
               "--encoding", "latin-9000")
    assert out.exit_code == 1 and "unknown encoding" in out.output


def test_instruments_from_xlsx(session, world, database_url, tmp_path):
    today = dt.date.today()  # noqa: DTZ011 - far enough from any due date
    book = Workbook()
    sheet = book.active
    sheet.append(["设备编号", "设备名称", "规格型号", "出厂编号", "制造商", "设备状态", "校准日期",
                  "有效期至", "证书编号", "测量参数", "单位", "测量范围下限", "测量范围上限"])
    sheet.append(["EQ-100", "电子天平", "XS205", "B123", "Mettler", "在用",
                  dt.date(today.year - 1, today.month, 1),  # a date cell
                  today + dt.timedelta(days=200),
                  "JL-2024-001", "mass", "g", 0, 220])
    sheet.append(["EQ-101", "数字多用表", "34465A", "MY1", "Keysight", "停用", None, None, None,
                  "DC voltage", "V", None, 1000])
    path = tmp_path / "instruments.xlsx"
    book.save(path)
    out = _cli(database_url, tmp_path, "import", "instruments", str(path), "--user", "qm")
    assert out.exit_code == 0, out.output
    session.rollback()
    balance = session.scalar(select(Instrument).where(Instrument.asset_number == "EQ-100"))
    assert (balance.name, balance.status, balance.calibration_flag) == ("电子天平", "in service",
                                                                         "ok")
    assert [(q.quantity, q.unit, q.dimension, q.range_max) for q in balance.quantities] == [
        ("mass", "g", "[mass]", "220")]
    rec = session.scalar(select(CalibrationRecord)
                         .where(CalibrationRecord.instrument_id == balance.id))
    assert (rec.certificate_number, rec.valid_until, rec.source) == (
        "JL-2024-001", today + dt.timedelta(days=200), "migrated")
    dmm = session.scalar(select(Instrument).where(Instrument.asset_number == "EQ-101"))
    assert (dmm.status, dmm.calibration_flag) == ("out of service", "overdue")
    assert verify_chain(session).ok
    # Units and ranges are checked; asset numbers are unique in the file and the register.
    book = Workbook()
    sheet = book.active
    sheet.append(["asset number", "name", "quantity", "unit", "range min", "range max",
                  "calibration due"])
    sheet.append(["EQ-1", "dup in db", "", "", "", "", ""])
    sheet.append(["EQ-200", "bad unit", "mass", "blarg", "", "", ""])
    sheet.append(["EQ-201", "bad range", "mass", "g", "10", "1", ""])
    sheet.append(["EQ-201", "dup in file", "", "", "", "", "someday"])
    book.save(path)
    out = _cli(database_url, tmp_path, "import", "instruments", str(path), "--user", "qm")
    assert out.exit_code == 1
    assert "row 2, asset number: asset number EQ-1 exists already" in out.output
    assert "row 3, unit:" in out.output
    assert "row 4, range min: the range's lower end is above its upper end" in out.output
    assert "row 5, asset number: asset number EQ-201 is also in row 4" in out.output
    assert "row 5, calibration due:" in out.output


@pytest.mark.parametrize(("user", "expected"), [
    ("ghost", "no active user 'ghost'"),
    ("auditor", "your roles do not allow"),
    ("reviewer", "your roles do not allow"),
])
def test_users_without_the_right_are_refused(session, world, database_url, tmp_path, user,
                                             expected):
    before = _head(session)
    path = _csv(tmp_path / "s.csv", [["sample number", "request number", "customer",
                                      "sample name"], ["U-1", "UR-1", "ACME Textiles", "x"]])
    out = _cli(database_url, tmp_path, "import", "samples", str(path), "--user", user)
    assert out.exit_code == 1
    assert expected in out.output
    assert (_head(session), _count(session, Sample)) == (before, 0)
    out = _cli(database_url, tmp_path, "import", "samples", str(path))
    assert out.exit_code == 2  # --user is required


@pytest.mark.parametrize(("content", "expected"), [
    (b"", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "not a CSV file"),
    (b"PK\x03\x04 this is not a zip at all", "not a readable XLSX workbook"),
    ("样品编号,委托编号,委托单位,样品名称\n".encode(), "the file has a header but no rows"),
    (b"number,request\nX,Y\n", "a required column is missing"),
    (b",,\nX,Y,Z\n", "the first row must name the columns"),
    (b"sample number,request number,customer,sample name,colour\nA,B,C,D,red\n",
     "row 1, colour: unknown column"),
])
def test_malformed_files_are_refused_without_a_traceback(session, world, database_url, tmp_path,
                                                         content, expected):
    path = tmp_path / "in.csv"
    path.write_bytes(content)
    out = _cli(database_url, tmp_path, "import", "samples", str(path), "--user", "tech")
    assert out.exit_code == 1, out.output
    assert expected in out.output
    assert isinstance(out.exception, SystemExit)
    assert _count(session, Sample) == 0
    assert _count(session, SampleTest) == 0
