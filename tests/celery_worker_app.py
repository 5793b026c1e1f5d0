"""The Celery app a real worker runs in tests/integration/test_celery_task.py (``celery -A celery_worker_app worker``).

Its Flask app talks to the loopback fake vendor and keeps its claims in the test's Redis, both named
by environment variables (``FLASK_*``, read with ``from_prefixed_env``), as a deployment's would.
The broker is the same Redis (``CELERY_BROKER``); ``visibility_timeout`` is short so a message whose
worker was killed is delivered again within seconds, not the default hour.
"""

from __future__ import annotations

import os

from celery import Celery
from flask import Flask

from flask_sms import SmsExtension
from flask_sms.contrib.celery import make_send_task

flask_app = Flask("celery_worker_app")
flask_app.config.from_prefixed_env()
SmsExtension(flask_app)

celery = Celery("celery_worker_app", broker=os.environ["CELERY_BROKER"], backend=os.environ["CELERY_BROKER"])
celery.conf.update(
    # kombu's Redis transport gives an unacknowledged message back once it is older than visibility_timeout,
    # when a worker starts and then at each sweep (every unacked_restore_interval x throttle seconds)
    broker_transport_options={"visibility_timeout": 3, "unacked_restore_interval": 1, "unacked_restore_throttle": 1},
    result_backend_transport_options={"visibility_timeout": 3},
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_serializer="json",
    result_serializer="json",
)
send_task = make_send_task(celery, flask_app=flask_app, base_delay=0.5)
