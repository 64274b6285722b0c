"""What the public verification page may show of an issued document.

Whoever holds a paper copy can compare its key contents with the record (ISO/IEC 17025
7.8.1.2: the report is the lab's; the public check must not disclose the customer's
confidential information, 4.2): the customer's name only in part, the item, the issue date
and the conclusion. No results, addresses, contacts or signatures' details. Pure: no Flask,
no Session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from lims.reports.content import ReportContent
from lims.reports.documents import load_content


def mask(name: str) -> str:
    """A name shown in part: the first two and last two characters, the middle masked
    (湖北某某有限公司 → 湖北****公司); a short name keeps fewer, and at least one character
    is always masked."""
    name = name.strip()
    n = len(name)
    if n <= 1:
        return "*" * n
    if n == 2:
        return name[0] + "*"
    keep = min(2, (n - 1) // 2)
    return name[:keep] + "*" * (n - 2 * keep) + name[n - keep:]


@dataclasses.dataclass(frozen=True)
class Summary:
    customer: str          # masked
    item: str              # the sample's name, or the instrument calibrated or verified
    issued_at: dt.datetime
    conclusion: str        # as printed; "" when the document states none


def summary(content_json: str) -> Summary | None:
    """The key contents of a stored snapshot; None when it cannot be read (an older or
    damaged snapshot: the page then shows status and SHA-256 only)."""
    try:
        content = load_content(content_json)
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(content, ReportContent):
        return Summary(mask(content.customer_name), content.sample_description,
                       content.issued_at, content.conclusion)
    return Summary(mask(content.customer.name), content.item.name, content.issued_at,
                   content.conformity_statement)
