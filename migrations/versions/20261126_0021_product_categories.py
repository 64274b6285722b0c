"""The product catalogue (产品类别) and each sample's category (issue 11 §3: pass rates per
product category; issue 13 will build the supervision statistics on it).

The three target families of the province's quality programme come seeded with their target
pass rates, and a dozen common subcategories, so that a fresh database can categorise samples
at once; a lab adds its own (lims.samples.categories).

Revision ID: 0021
Revises: 0015
Create Date: 2026-11-26
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from alembic import op

import lims.db

revision = "0021"
down_revision = "0015"
branch_labels = None
depends_on = None

# (code, 中文, English, target pass rate %): the province's targets (湖北质量状况白皮书).
FAMILIES = [
    ("FOOD", "食品", "Food", "98.50"),
    ("DMC", "药品、医疗器械、化妆品", "Drugs, medical devices and cosmetics", "98.00"),
    ("IND", "工业产品", "Manufactured products", "95.00"),
]
SUBCATEGORIES = [
    ("FOOD", "FOOD-DAIRY", "乳制品", "Dairy products"),
    ("FOOD", "FOOD-MEAT", "肉制品", "Meat products"),
    ("FOOD", "FOOD-OIL", "食用油、油脂及其制品", "Edible oils and fats"),
    ("FOOD", "FOOD-BEVERAGE", "饮料", "Beverages"),
    ("DMC", "DMC-DRUG", "药品", "Drugs"),
    ("DMC", "DMC-DEVICE", "医疗器械", "Medical devices"),
    ("DMC", "DMC-COSMETIC", "化妆品", "Cosmetics"),
    ("IND", "IND-TEXTILE", "纺织面料", "Textile fabrics"),
    ("IND", "IND-CHILD-CLOTHING", "儿童服装", "Children's clothing"),
    ("IND", "IND-WIRE-CABLE", "电线电缆", "Wires and cables"),
    ("IND", "IND-E-BIKE", "电动自行车", "Electric bicycles"),
    ("IND", "IND-APPLIANCE", "家用电器", "Household electrical appliances"),
    ("IND", "IND-TOY", "玩具", "Toys"),
    ("IND", "IND-REBAR", "钢筋混凝土用钢", "Steel bars for reinforced concrete"),
    ("IND", "IND-FERTILIZER", "化肥", "Fertilisers"),
]


def upgrade() -> None:
    table = op.create_table(
        "product_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name_zh", sa.String(length=120), nullable=False),
        sa.Column("name_en", sa.String(length=120), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("target_pass_rate", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", lims.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_id"], ["product_categories.id"],
                                name=op.f("fk_product_categories_parent_id_product_categories")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_categories")),
        sa.UniqueConstraint("code", name=op.f("uq_product_categories_code")),
    )
    op.create_index(op.f("ix_product_categories_parent_id"), "product_categories",
                    ["parent_id"], unique=False)
    with op.batch_alter_table("samples") as batch:
        batch.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(batch.f("fk_samples_category_id_product_categories"),
                                 "product_categories", ["category_id"], ["id"])
        batch.create_index(batch.f("ix_samples_category_id"), ["category_id"], unique=False)

    # Seed data: no ids given, so PostgreSQL's sequence stays in step.
    now = dt.datetime.now(dt.UTC)
    op.bulk_insert(table, [
        {"code": code, "name_zh": zh, "name_en": en, "parent_id": None,
         "target_pass_rate": target, "retired": False, "created_at": now}
        for code, zh, en, target in FAMILIES])
    conn = op.get_bind()
    ids = dict(conn.execute(sa.select(table.c.code, table.c.id)).all())
    op.bulk_insert(table, [
        {"code": code, "name_zh": zh, "name_en": en, "parent_id": ids[parent],
         "target_pass_rate": None, "retired": False, "created_at": now}
        for parent, code, zh, en in SUBCATEGORIES])


def downgrade() -> None:
    with op.batch_alter_table("samples") as batch:
        batch.drop_index(batch.f("ix_samples_category_id"))
        batch.drop_constraint(batch.f("fk_samples_category_id_product_categories"),
                              type_="foreignkey")
        batch.drop_column("category_id")
    op.drop_index(op.f("ix_product_categories_parent_id"), table_name="product_categories")
    op.drop_table("product_categories")
