"""A ``requests`` session for providers that speak HTTP themselves, routed by ``SMS_PROXY``/``NO_PROXY``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests


class RoutedSession(requests.Session):
    """One pooled session whose every request takes the ``proxies`` the provider decided for its URL.

    ``trust_env`` stays on, so ``REQUESTS_CA_BUNDLE`` and friends still apply; the
    explicit ``proxies`` (``None`` values for a direct request) keep ``requests`` from
    adding the environment's proxies on top of that decision.
    """

    def __init__(self, route: Callable[[str], dict[str, str | None]]) -> None:
        super().__init__()
        self.route = route

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> requests.Response:
        text = url.decode() if isinstance(url, bytes) else url
        kwargs["proxies"] = self.route(text)
        return super().request(method, url, *args, **kwargs)
