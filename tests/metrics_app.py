"""``tests/scale_app.py``'s app with the usual Prometheus ``/metrics`` of a gunicorn deployment (multi-process).

Run as ``metrics_app:create_app()`` with ``PROMETHEUS_MULTIPROC_DIR`` set: every worker writes its values
there, and ``/metrics`` (answered by any worker) adds them up, as prometheus_client's docs show.
"""

from __future__ import annotations

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from scale_app import create_app as create_scale_app


def create_app() -> Flask:
    app = create_scale_app()

    @app.get("/metrics")
    def metrics() -> Response:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), mimetype=CONTENT_TYPE_LATEST)

    return app
