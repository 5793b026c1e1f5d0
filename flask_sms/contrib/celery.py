"""A Celery task that sends through flask_sms at most once per ``out_id``, whatever Celery redelivers.

``make_send_task(celery_app)`` returns a task with ``acks_late=True`` (a worker that dies
mid-send leaves the message to be delivered again) that sends with ``idempotent=True``
(the redelivered run finds the first run's claim and sends nothing again). It retries,
with exponential back-off, only when every attempt's outcome was ``failed`` (nothing was
sent, the next try may succeed); never for ``rejected`` (final for the number) or
``unknown`` (the text may be out). A run that finds the first still in flight
(:class:`~flask_sms.DuplicateSend`) retries too, and then gets the first run's result.

The task needs the Flask app: pass ``flask_app=`` (each run pushes its app context), or
use Flask's Celery pattern, whose base task pushes it (``celery_app.Task = FlaskTask``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from contextlib import nullcontext
from typing import Any

from flask import Flask

from ..errors import PhoneRejected, SendError
from ..extension import send_sms
from ..idempotency import DuplicateSend
from ..results import SendResult

#: the task's name unless ``name=`` says otherwise
TASK_NAME = "flask_sms.send"


def backoff(retries: int, base: float = 2.0, cap: float = 600.0) -> float:
    """Seconds before retry number ``retries + 1``: 2, 4, 8 ... up to ``cap``."""
    return float(min(cap, base * 2**retries))


def worth_retrying(error: SendError) -> bool:
    """Only a send where every attempt ``failed`` (nothing sent, nothing may have been, nothing final)."""
    if isinstance(error, PhoneRejected):
        return False
    return bool(error.attempts) and all(attempt.outcome == "failed" for attempt in error.attempts if not attempt.ok)


def summary(result: SendResult) -> dict[str, Any]:
    """What the task returns (JSON, for any result backend): the outcome per number, the vendors' codes."""
    return {
        "ok": result.ok,
        "out_id": result.out_id,
        "provider": result.provider,
        "delivered": dict(result.delivered),
        "unknown": {phone: str(attempt) for phone, attempt in result.unknown.items()},
        "failed": {phone: str(attempt) for phone, attempt in result.failed.items()},
        "message_ids": list(result.message_ids),
    }


def make_send_task(
    celery_app: Any,
    *,
    flask_app: Flask | None = None,
    name: str = TASK_NAME,
    max_retries: int = 5,
    base_delay: float = 2.0,
) -> Any:
    """Register and return the send task: ``task.delay(phones, purpose, params, out_id="order-42:shipped")``.

    ``out_id`` is required: it is what makes a redelivered or repeated task send nothing again.
    """

    @celery_app.task(  # type: ignore[untyped-decorator]  # Celery's decorator is untyped
        name=name, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=max_retries
    )
    def send(
        task: Any,
        phones: str | Iterable[str],
        purpose: str,
        params: Mapping[str, Any] | None = None,
        *,
        out_id: str,
    ) -> dict[str, Any]:
        with flask_app.app_context() if flask_app is not None else nullcontext():
            try:
                result = send_sms(phones, purpose, params, out_id=out_id, idempotent=True)
            except DuplicateSend as exc:
                raise task.retry(exc=exc, countdown=backoff(task.request.retries, base_delay)) from None
            except SendError as exc:
                if worth_retrying(exc):
                    raise task.retry(exc=exc, countdown=backoff(task.request.retries, base_delay)) from None
                raise
        return summary(result)

    return send
