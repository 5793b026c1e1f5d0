"""The one clock an extension's pieces read: codes, cool-downs, limits, breakers, the fraud guard, receipts.

Every per-app object is built with the extension's :class:`Clock` and calls it for "now".
``sms.clock = fake`` points that one object at another time source, so everything built with
it follows at once, and nothing built has to be told.
"""

from __future__ import annotations

import time
from collections.abc import Callable

#: what "now" is: seconds since the epoch, as ``time.time`` says them
TimeSource = Callable[[], float]


class Clock:
    """A time source that can be swapped while the pieces that read it keep their reference."""

    def __init__(self, source: TimeSource = time.time) -> None:
        self._source = source

    def __call__(self) -> float:
        return self._source()

    @property
    def source(self) -> TimeSource:
        """The function "now" comes from (``time.time`` unless replaced)."""
        return self._source

    def use(self, source: TimeSource) -> None:
        """Read ``source`` from now on, in every piece built with this clock."""
        if not callable(source):
            raise TypeError(f"a clock must be a function returning seconds (got {type(source).__name__})")
        self._source = source
