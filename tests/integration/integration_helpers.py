"""What the integration apps' tests share: reading the dev inbox, counting glue lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
START, END = "# --- flask_sms glue ---", "# --- end glue ---"


def inbox(client: Any, prefix: str = "") -> list[dict[str, Any]]:
    """The texts in flask_sms's dev inbox, newest first (GET /sms_dev/inbox)."""
    response = client.get(f"{prefix}/sms_dev/inbox", headers={"Accept": "application/json"})
    assert response.status_code == 200, response.status_code
    messages: list[dict[str, Any]] = response.get_json()["messages"]
    return messages


def glue_lines(name: str) -> int:
    """Lines of code between the glue markers of one app (templates: lines that name flask_sms's macro or script)."""
    count, inside = 0, False
    for line in (HERE / name).read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped in (START, "{# " + START[2:] + " #}"):
            inside = True
        elif stripped in (END, "{# " + END[2:] + " #}"):
            inside = False
        elif inside and stripped and not stripped.startswith("#"):
            count += 1
    return count
