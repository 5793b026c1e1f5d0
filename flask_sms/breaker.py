"""One circuit breaker per provider account: stop waiting on a vendor that is down.

After ``failures`` sends that ended ``failed`` or ``unknown`` within ``window``
seconds, the provider is skipped for ``cooldown`` seconds (its attempt is
``failed`` with code ``circuit_open``, and no call is made). A refusal of the
number (``rejected``) or of the text's values (``content``) is an answer from a
working vendor and never counts. After the cool-down
one probe is let through, once across workers: a good answer closes the breaker,
another failure opens it again.

The state lives in the storage (:mod:`.storage`, shared through Redis). Each
process keeps a local view of which breakers are open and refreshes it at most
once every :data:`SYNC_SECONDS`, so a healthy send reads nothing from Redis;
only failures, probes and closings write. A storage fault never stops a send:
the breaker then counts as closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from .backends import storage_errors
from .options import BreakerPolicy
from .storage import OPENED, REOPENED, BreakerState, OpenBreaker

logger = logging.getLogger("flask_sms")

#: how stale a process's view of the other workers' breakers may be, in seconds
SYNC_SECONDS = 1.0

#: ``go``: closed; ``probe``: the one call after the cool-down; ``skip``: open
Gate = Literal["go", "probe", "skip"]


@dataclass(frozen=True)
class Transition:
    """A breaker that opened (``down``) or closed (``up``): the sender turns these into signals."""

    provider: str
    down: bool


class Breaker:
    """The breakers of one app's providers."""

    def __init__(
        self, policy: BreakerPolicy, state: BreakerState, clock: Callable[[], float], probe_ttl: float
    ) -> None:
        self.policy = policy
        self.state = state
        self.clock = clock
        self.probe_ttl = probe_ttl
        self._lock = threading.Lock()
        self._view: dict[str, OpenBreaker] = {}
        self._synced_at: float | None = None
        self._errors = storage_errors()

    def _open_view(self) -> dict[str, OpenBreaker]:
        """The open breakers as this process knows them, refreshed once a second at most."""
        now = self.clock()
        synced_at = self._synced_at
        if synced_at is not None and 0 <= now - synced_at < SYNC_SECONDS:
            return self._view  # the common case: no lock, no storage
        with self._lock:
            if self._synced_at is not None and 0 <= now - self._synced_at < SYNC_SECONDS:
                return self._view
            self._synced_at = now  # one refresh at a time; the others use the view they have
        try:
            view = self.state.snapshot()
        except self._errors as exc:
            logger.warning("flask_sms could not read the circuit breakers (they count as closed): %s", exc)
            view = {}
        with self._lock:
            self._view = view
        return view

    def gate(self, name: str) -> Gate:
        """Whether a send may call ``name`` now."""
        open_breaker = self._open_view().get(name)
        if open_breaker is None:
            return "go"
        if self.clock() < open_breaker[0]:
            return "skip"
        try:
            won = self.state.claim_probe(name, self.probe_ttl)
        except self._errors:
            return "go"
        return "probe" if won else "skip"

    def earliest(self, names: Sequence[str]) -> str | None:
        """Of ``names``, the one whose breaker opened first (tried when every provider is open)."""
        view = self._open_view()
        opened = [(view[name][1], index, name) for index, name in enumerate(names) if name in view]
        return min(opened)[2] if opened else None

    def failed(self, name: str, probe: bool) -> Transition | None:
        """Count a ``failed`` or ``unknown`` send; a :class:`Transition` when it opened the breaker."""
        policy = self.policy
        try:
            what, state = self.state.failure(name, self.clock(), policy.window, policy.failures, policy.cooldown, probe)
        except self._errors as exc:
            logger.warning("flask_sms could not count a failure of %s in the circuit breaker: %s", name, exc)
            return None
        if state is not None:
            with self._lock:
                self._view = {**self._view, name: state}
        if what == OPENED:
            logger.warning(
                "flask_sms: %s failed %d times within %g s: skipped for %g s (circuit breaker open)",
                name,
                policy.failures,
                policy.window,
                policy.cooldown,
            )
            return Transition(name, down=True)
        if what == REOPENED:
            logger.warning("flask_sms: the probe of %s failed: skipped for another %g s", name, policy.cooldown)
        return None

    def succeeded(self, name: str) -> Transition | None:
        """A good answer: close the breaker if this process saw it open (a closed one costs nothing)."""
        with self._lock:
            if name not in self._view:
                return None
            self._view = {key: value for key, value in self._view.items() if key != name}
        try:
            was_open = self.state.close(name)
        except self._errors as exc:
            logger.warning("flask_sms could not close the circuit breaker of %s: %s", name, exc)
            return None
        if was_open:
            logger.info("flask_sms: %s answered again: circuit breaker closed", name)
            return Transition(name, down=False)
        return None
