"""The standard list parameters (filterBy, filterOp, filterValue, sortOrder) as a ListQuery.

The spec's enums already reject unknown names; this module checks how they combine and
parses the values, so the store receives typed values it can put straight into SQL.
"""
from __future__ import annotations

from datetime import UTC, datetime

from uapi.errors import bad_request
from uapi.store.port import ListQuery

TEXT_ONLY_OPS = ("contains", "startsWith")


def list_query(filter_by: str | None, filter_op: str | None, filter_value: str | None,
               sort_order: str | None, start: int, count: int) -> ListQuery:
    op = filter_op or "equals"
    descending = sort_order == "descending"
    if filter_by is None:
        if filter_op is not None or filter_value is not None:
            raise bad_request("filterby_invalid", "filterOp and filterValue need filterBy (id or published).")
        return ListQuery(descending=descending, start=start, count=count)
    if op == "present":
        return ListQuery(filter_by, op, (), descending, start, count)
    if filter_value is None or filter_value == "":
        raise bad_request("filtervalue_invalid", f"filterOp {op} needs a filterValue.")
    raw = [v.strip() for v in filter_value.split(",")] if op == "inArray" else [filter_value]
    if filter_by == "published":
        if op in TEXT_ONLY_OPS:
            raise bad_request("filterop_invalid", f"filterOp {op} applies to id only; published compares as a time.")
        values: tuple[int, ...] | tuple[str, ...] = tuple(_epoch_ms(v) for v in raw)
    else:
        if any(not v.isalnum() for v in raw):
            raise bad_request("filtervalue_invalid", "An id filter value is alphanumeric.")
        values = tuple(raw)
    return ListQuery(filter_by, op, values, descending, start, count)


def _epoch_ms(text: str) -> int:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise bad_request("filtervalue_invalid", f"{text!r} is not an RFC 3339 time such as 2026-11-27T05:27:00Z.") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000
