"""Seed the regions (GB/T 2260): the province of Hubei, its 17 prefecture-level divisions and a
few counties and districts, so that a fresh database can take plan quotas per region at once
(issue 13 §1); a lab adds the rest of its counties as it needs them.

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

PROVINCE = ("420000", "湖北省", "Hubei Province")
# GB/T 2260 codes of Hubei's prefecture-level divisions: 12 prefecture-level cities, the
# Enshi autonomous prefecture, and the four county-level cities and the forestry district
# administered directly by the province (省直辖, 4290xx).
PREFECTURES = [
    ("420100", "武汉市", "Wuhan"),
    ("420200", "黄石市", "Huangshi"),
    ("420300", "十堰市", "Shiyan"),
    ("420500", "宜昌市", "Yichang"),
    ("420600", "襄阳市", "Xiangyang"),
    ("420700", "鄂州市", "Ezhou"),
    ("420800", "荆门市", "Jingmen"),
    ("420900", "孝感市", "Xiaogan"),
    ("421000", "荆州市", "Jingzhou"),
    ("421100", "黄冈市", "Huanggang"),
    ("421200", "咸宁市", "Xianning"),
    ("421300", "随州市", "Suizhou"),
    ("422800", "恩施土家族苗族自治州", "Enshi Tujia and Miao Autonomous Prefecture"),
    ("429004", "仙桃市", "Xiantao"),
    ("429005", "潜江市", "Qianjiang"),
    ("429006", "天门市", "Tianmen"),
    ("429021", "神农架林区", "Shennongjia Forestry District"),
]
COUNTIES = [
    ("420100", "420102", "江岸区", "Jiang'an District"),
    ("420100", "420103", "江汉区", "Jianghan District"),
    ("420100", "420104", "硚口区", "Qiaokou District"),
    ("420100", "420106", "武昌区", "Wuchang District"),
    ("420100", "420111", "洪山区", "Hongshan District"),
    ("420100", "420115", "江夏区", "Jiangxia District"),
    ("420500", "420502", "西陵区", "Xiling District"),
    ("420500", "420581", "宜都市", "Yidu"),
    ("420600", "420602", "襄城区", "Xiangcheng District"),
    ("420600", "420683", "枣阳市", "Zaoyang"),
]


def upgrade() -> None:
    regions = sa.table("regions", sa.column("id", sa.Integer()), sa.column("code", sa.String()),
                       sa.column("name_zh", sa.String()), sa.column("name_en", sa.String()),
                       sa.column("level", sa.String()), sa.column("parent_id", sa.Integer()))
    # No ids given, so PostgreSQL's sequence stays in step.
    op.bulk_insert(regions, [{"code": PROVINCE[0], "name_zh": PROVINCE[1],
                              "name_en": PROVINCE[2], "level": "province", "parent_id": None}])
    conn = op.get_bind()
    province = conn.execute(sa.select(regions.c.id).where(regions.c.code == PROVINCE[0])
                            ).scalar_one()
    op.bulk_insert(regions, [{"code": code, "name_zh": zh, "name_en": en, "level": "prefecture",
                              "parent_id": province} for code, zh, en in PREFECTURES])
    ids = dict(conn.execute(sa.select(regions.c.code, regions.c.id)).all())
    op.bulk_insert(regions, [{"code": code, "name_zh": zh, "name_en": en, "level": "county",
                              "parent_id": ids[parent]} for parent, code, zh, en in COUNTIES])


def downgrade() -> None:
    regions = sa.table("regions", sa.column("code", sa.String()), sa.column("level", sa.String()))
    codes = [PROVINCE[0]] + [p[0] for p in PREFECTURES] + [c[1] for c in COUNTIES]
    for level in ("county", "prefecture", "province"):  # children before their parents
        op.execute(regions.delete().where(regions.c.level == level)
                   .where(regions.c.code.in_(codes)))
