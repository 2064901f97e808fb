"""Pagination and the shared deadline.

Every list call goes through botocore's paginators (one request per page, tokens handled by
botocore), and stops early when the step's deadline passes so a long listing never eats the
budget of the sources running beside it. Batch helpers keep to each API's documented limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")
# The response keys that say another page follows, as the APIs the sources page name them
# (API Gateway's is `position`).
NEXT_PAGE_KEYS = ("NextToken", "nextToken", "Marker", "NextMarker", "position")


@dataclass
class Deadline:
    """A point on the monotonic clock all sources share."""

    at: float
    clock: Callable[[], float] = field(default=time.monotonic)

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> Deadline:
        return cls(clock() + seconds, clock)

    def remaining(self) -> float:
        return self.at - self.clock()

    def expired(self) -> bool:
        return self.remaining() <= 0


@dataclass
class Listing:
    """Items of a paginated call, and whether the deadline cut it short."""

    items: list[Any]
    pages: int
    truncated: bool = False


def paginate(
    client: Any,
    operation: str,
    result_key: str,
    deadline: Deadline | None = None,
    max_pages: int = 50,
    **kwargs: Any,
) -> Listing:
    """All items of `result_key` across pages (at most `max_pages`, and never past the
    deadline); `truncated` says that more pages existed than we read."""
    paginator = client.get_paginator(operation)
    items: list[Any] = []
    pages = 0
    truncated = False
    for page in paginator.paginate(**kwargs):
        pages += 1
        items.extend(page.get(result_key, []))
        more = any(page.get(k) for k in NEXT_PAGE_KEYS)
        if more and (pages >= max_pages or (deadline is not None and deadline.expired())):
            truncated = True
            break
    return Listing(items, pages, truncated)


def find_first(
    client: Any,
    operation: str,
    result_key: str,
    match: Callable[[Any], bool],
    deadline: Deadline | None = None,
    max_pages: int = 50,
    **kwargs: Any,
) -> Any | None:
    """The first item of a paginated listing that `match`es, reading no page past the one it
    is on (nor past `max_pages` or the deadline): None when no page read has it."""
    listing = client.get_paginator(operation).paginate(**kwargs)
    for pages, page in enumerate(listing, start=1):
        found = next((item for item in page.get(result_key, []) if match(item)), None)
        if found is not None:
            return found
        if pages >= max_pages or (deadline is not None and deadline.expired()):
            return None
    return None


def batches(values: Sequence[T], size: int) -> Iterator[list[T]]:
    """`values` in consecutive chunks of at most `size` (an API's documented batch limit)."""
    for start in range(0, len(values), size):
        yield list(values[start : start + size])
