"""The product catalogue (产品类别): target families and their subcategories.

The province measures product quality against a target pass rate per family (食品 ≥ 98.5 %;
药品、医疗器械、化妆品 ≥ 98 %; 工业产品 ≥ 95 %); subcategories (儿童服装, 电线电缆, 电动自行车 …)
sit below a family, to any depth, and inherit its target. A sample names the category it
belongs to (``samples.category_id``); the dashboard counts pass rates per category.

Services: a session and keyword data, flush but never commit, an audit event for every change;
errors name the field.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.audit.services import record, snapshot
from lims.auth.models import User
from lims.auth.services import require
from lims.errors import Conflict, InvalidInput, NotFound, msg
from lims.samples.models import ProductCategory
from lims.validate import text

# Upper-case letters, digits, "-" and "_": a code is typed in API calls and URLs.
CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,39}$")
MAX_DEPTH = 6  # a catalogue deeper than this is a data error, and the walk stops there


@dataclasses.dataclass(frozen=True)
class Node:
    """A category with its children, in the order they were added."""

    category: ProductCategory
    depth: int
    children: tuple[Node, ...] = ()

    def walk(self) -> list[Node]:
        """This node and every node below it, depth first."""
        return [self, *(n for child in self.children for n in child.walk())]


def _code(value: Any, field: str = "code") -> str:
    code = text(value, field, max_len=40).upper()
    if not CODE.match(code):
        raise InvalidInput(msg("use capital letters, digits, '-' and '_' (at most 40)"),
                           field=field)
    return code


def _target(value: Any, *, top_level: bool) -> Decimal | None:
    """A target pass rate in percent, above 0 and at most 100, two decimals at most."""
    if value is None or value == "":
        return None
    if not top_level:
        raise InvalidInput(msg("only a top-level family has a target; a subcategory is "
                               "measured against its family's"), field="target_pass_rate")
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise InvalidInput(msg("must be a number"), field="target_pass_rate")
    try:
        target = Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidInput(msg("must be a number"), field="target_pass_rate") from None
    if not target.is_finite() or not Decimal(0) < target <= Decimal(100):
        raise InvalidInput(msg("must be above 0 and at most 100 (percent)"),
                           field="target_pass_rate")
    if target.as_tuple().exponent < -2:  # type: ignore[operator]
        raise InvalidInput(msg("at most two decimals"), field="target_pass_rate")
    return target


def get_category(session: Session, code: str) -> ProductCategory:
    """:raises NotFound:"""
    found = session.scalar(select(ProductCategory).where(
        ProductCategory.code == str(code).strip().upper()))
    if found is None:
        raise NotFound(msg("no product category %(code)r", code=code), category=code)
    return found


def resolve(session: Session, value: Any, field: str = "category") -> ProductCategory | None:
    """The category a sample is registered in, from its code; None for none given.

    :raises InvalidInput: not text, no such category, or a retired one (named ``field``).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidInput(msg("must be a category code (text)"), field=field)
    found = session.scalar(select(ProductCategory).where(
        ProductCategory.code == value.strip().upper()[:40]))
    if found is None:
        raise InvalidInput(msg("no product category %(code)s", code=value.strip()[:40]),
                           field=field)
    if found.retired:
        raise InvalidInput(msg("product category %(code)s is retired", code=found.code),
                           field=field)
    return found


def _parent(session: Session, value: Any) -> ProductCategory | None:
    if value is None or value == "":
        return None
    code = _code(value, "parent")
    parent = session.scalar(select(ProductCategory).where(ProductCategory.code == code))
    if parent is None:
        raise InvalidInput(msg("no product category %(code)s", code=code), field="parent")
    return parent


def path(session: Session, category: ProductCategory) -> list[ProductCategory]:
    """From the top-level family down to ``category``."""
    chain = [category]
    seen = {category.id}
    while chain[0].parent_id is not None and len(chain) <= MAX_DEPTH:
        parent = session.get(ProductCategory, chain[0].parent_id)
        if parent is None or parent.id in seen:  # a cycle cannot be written (see move)
            break
        seen.add(parent.id)
        chain.insert(0, parent)
    return chain


def family(session: Session, category: ProductCategory) -> ProductCategory:
    """The top-level family of ``category`` (itself for a family)."""
    return path(session, category)[0]


def create_category(session: Session, *, actor: User, code: Any, name_zh: Any, name_en: Any,
                    parent: Any = None, target_pass_rate: Any = None) -> ProductCategory:
    """Add a category: a top-level family (no ``parent``, with its ``target_pass_rate`` in
    percent) or a subcategory under ``parent`` (a code).

    :raises InvalidInput: a bad or taken code, a missing name, an unknown or retired parent,
        a target on a subcategory or outside (0, 100].
    """
    require(actor, "method.manage")  # reference data, as methods (ISO/IEC 17025 8.3)
    code = _code(code)
    if session.scalar(select(ProductCategory.id).where(ProductCategory.code == code)):
        raise InvalidInput(msg("a product category %(code)s exists already", code=code),
                           field="code")
    zh = text(name_zh, "name_zh", max_len=120)
    en = text(name_en, "name_en", max_len=120)
    above = _parent(session, parent)
    if above is not None and above.retired:
        raise InvalidInput(msg("product category %(code)s is retired", code=above.code),
                           field="parent")
    if above is not None and len(path(session, above)) >= MAX_DEPTH:
        raise InvalidInput(msg("the catalogue is at most %(n)s levels deep", n=MAX_DEPTH),
                           field="parent")
    category = ProductCategory(code=code, name_zh=zh, name_en=en,
                               parent_id=above.id if above else None,
                               target_pass_rate=_target(target_pass_rate,
                                                        top_level=above is None),
                               retired=False)
    session.add(category)
    session.flush()
    record(session, actor=actor, action="category.create", entity_type="product_categories",
           entity_id=category.code, after=snapshot(category))
    return category


def move_category(session: Session, *, actor: User, code: str, parent: Any,
                  target_pass_rate: Any = None) -> ProductCategory:
    """Put a category under another ``parent`` (or at the top with none, where it needs its
    own target). A category cannot go under itself or under one of its own subcategories.

    :raises InvalidInput: the move would make a cycle, or the target does not fit the level.
    """
    require(actor, "method.manage")
    category = get_category(session, code)
    above = _parent(session, parent)
    if above is not None and any(c.id == category.id for c in path(session, above)):
        raise InvalidInput(msg("%(code)s cannot go under itself or its own subcategory",
                               code=category.code), field="parent")
    before = snapshot(category)
    category.parent_id = above.id if above else None
    category.target_pass_rate = _target(target_pass_rate, top_level=above is None)
    session.flush()
    record(session, actor=actor, action="category.move", entity_type="product_categories",
           entity_id=category.code, before=before, after=snapshot(category))
    return category


def retire_category(session: Session, *, actor: User, code: str) -> ProductCategory:
    """Offer the category for no new sample; samples in it keep it.

    :raises Conflict: retired already.
    """
    require(actor, "method.manage")
    category = get_category(session, code)
    if category.retired:
        raise Conflict(msg("product category %(code)s is retired already", code=category.code))
    before = snapshot(category)
    category.retired = True
    session.flush()
    record(session, actor=actor, action="category.retire", entity_type="product_categories",
           entity_id=category.code, before=before, after=snapshot(category))
    return category


def list_categories(session: Session, *, include_retired: bool = True) -> list[ProductCategory]:
    """In the order they were added: the seeded families come in the province's order (食品;
    药品、医疗器械、化妆品; 工业产品)."""
    query = select(ProductCategory).order_by(ProductCategory.id)
    if not include_retired:
        query = query.where(ProductCategory.retired.is_(False))
    return list(session.scalars(query))


def tree(session: Session, *, include_retired: bool = True) -> list[Node]:
    """The families, each with its subcategories below it (one query; the catalogue is small).
    Below a retired category nothing is shown when ``include_retired`` is off."""
    rows = list_categories(session, include_retired=include_retired)
    below: dict[int | None, list[ProductCategory]] = {}
    for c in rows:
        below.setdefault(c.parent_id, []).append(c)
    return _nodes(below.get(None, []), below)


def _nodes(roots: list[ProductCategory],
           below: dict[int | None, list[ProductCategory]]) -> list[Node]:
    def build(c: ProductCategory, depth: int) -> Node:
        kids = below.get(c.id, []) if depth < MAX_DEPTH else []
        return Node(c, depth, tuple(build(k, depth + 1) for k in kids))

    return [build(c, 0) for c in roots]


def subtrees(session: Session, roots: list[ProductCategory]) -> list[Node]:
    """``roots`` (a page of families) each with every category below it, retired ones too:
    read a level at a time (at most MAX_DEPTH queries), not the whole catalogue (issue 14)."""
    below: dict[int | None, list[ProductCategory]] = {}
    level = [c.id for c in roots]
    for _depth in range(MAX_DEPTH):
        if not level:
            break
        kids = session.scalars(select(ProductCategory)
                               .where(ProductCategory.parent_id.in_(level))
                               .order_by(ProductCategory.id)).all()
        for k in kids:
            below.setdefault(k.parent_id, []).append(k)
        level = [k.id for k in kids]
    return _nodes(roots, below)


def as_dict(node: Node) -> dict[str, Any]:
    """A node as the API gives it."""
    c = node.category
    return {"code": c.code, "name_zh": c.name_zh, "name_en": c.name_en,
            "target_pass_rate": None if c.target_pass_rate is None else str(c.target_pass_rate),
            "retired": c.retired, "children": [as_dict(k) for k in node.children]}


def choices(session: Session, *, include_retired: bool = False
            ) -> list[tuple[ProductCategory, list[tuple[ProductCategory, int]]]]:
    """For a select grouped by family: each family with the categories below it and their
    depth (1 for a family's direct subcategory)."""
    return [(n.category, [(d.category, d.depth) for d in n.walk()[1:]])
            for n in tree(session, include_retired=include_retired)]
