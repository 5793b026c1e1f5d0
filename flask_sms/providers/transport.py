"""A ``requests`` session for providers that speak HTTP themselves, routed by ``SMS_PROXY``/``NO_PROXY``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import requests


class RoutedSession(requests.Session):
    """One pooled session whose every request takes the ``proxies`` the provider decided for its URL.

    The environment is read once, here, when the app starts, as the routes are: the CA
    bundle ``requests`` would take from ``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` is set on
    the session, and ``trust_env`` is off, so ``requests`` does not scan the whole
    environment for proxies on every send (a tenth of a bare call's time) only to be
    overridden by the route.
    """

    def __init__(self, route: Callable[[str], dict[str, str | None]]) -> None:
        super().__init__()
        self.route = route
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            self.verify = bundle
        self.trust_env = False

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        text = url.decode() if isinstance(url, bytes) else url
        kwargs["proxies"] = self.route(text)
        return super().request(method, url, *args, **kwargs)
