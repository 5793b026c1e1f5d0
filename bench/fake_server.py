"""Run ``tests/fake_vendor.FakeVendor`` in a child process, driven over a pipe.

The benchmark talks to the fake over loopback HTTP exactly as it would in-process,
but the fake's own CPU work (signature checks, parsing 1,000-number requests) runs
in another interpreter: it does not take the benchmark's GIL and is not counted as
time spent in flask_sms or in the vendor SDKs.

Protocol (one line each way): ``delay <seconds>``, ``mode <vendor> <mode> [<seconds>]``
(``FakeVendor.set_mode``; the seconds of a ``hang``), ``code <vendor> <phone>`` (the live code
a vendor-checked fake made), ``reset``, ``stats`` (answers a JSON object), ``stop``. The child prints ``ready <port>`` once it listens.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TESTS = ROOT / "tests"


class RemoteFake:
    """The parts of ``FakeVendor``'s interface the benchmark uses, for a fake in a child process."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve())],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        words = self._readline().split()
        if words[:1] != ["ready"]:
            self.stop()
            raise RuntimeError(f"fake vendor process did not start: {words!r}")
        self.port = int(words[1])
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self._delay = 0.0

    def _readline(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("fake vendor process exited")
        return line.strip()

    def _ask(self, command: str) -> str:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._readline()

    @property
    def delay(self) -> float:
        return self._delay

    @delay.setter
    def delay(self, seconds: float) -> None:
        self._ask(f"delay {float(seconds)!r}")
        self._delay = float(seconds)

    def set_mode(self, vendor: str, mode: str, seconds: float | None = None) -> None:
        answer = self._ask(f"mode {vendor} {mode}" + ("" if seconds is None else f" {float(seconds)!r}"))
        if answer != "ok":
            raise RuntimeError(f"fake vendor: {answer}")

    def reset(self) -> None:
        self._ask("reset")
        self._delay = 0.0

    def code_of(self, vendor: str, phone: str) -> str:
        """The live code the fake ``vendor`` (a vendor-checked one: ``aliyun_pnvs``) made and texted ``phone``."""
        return self._ask(f"code {vendor} {phone}")

    def stats(self) -> dict[str, Any]:
        """``{"accepted": {vendor: n}, "rejected": n, "errors": [first error], "cpu": seconds}``

        ``cpu`` is the fake process's CPU time so far (all its threads): the difference
        across a run is what the fake itself spent, serialised on its own GIL."""
        return json.loads(self._ask("stats"))

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self._ask("stop")
            except (OSError, RuntimeError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def _serve() -> None:
    sys.path.insert(0, str(TESTS))
    from fake_vendor import VENDORS, FakeVendor

    fake = FakeVendor().start()
    print(f"ready {fake.port}", flush=True)
    try:
        for line in sys.stdin:
            command, _, argument = line.strip().partition(" ")
            if command == "delay":
                fake.delay = float(argument)
                answer = "ok"
            elif command == "mode":
                vendor, mode, *seconds = argument.split()
                fake.set_mode(vendor, mode, **({"seconds": float(seconds[0])} if seconds else {}))
                answer = "ok"
            elif command == "code":  # the live code a vendor-checked fake made for a phone, as the phone shows it
                vendor, phone = argument.split()
                answer = fake.plugin(vendor).code_of(phone)
            elif command == "reset":
                fake.reset()
                answer = "ok"
            elif command == "stats":
                with fake._lock:
                    accepted = {vendor: 0 for vendor in VENDORS}
                    for received in fake.accepted:
                        accepted[received.vendor] += 1
                    answer = json.dumps(
                        {
                            "accepted": accepted,
                            "rejected": len(fake.rejected),
                            "errors": fake.errors[:1],
                            "cpu": time.process_time(),  # the fake's own CPU seconds so far
                        }
                    )
            elif command == "stop":
                print("ok", flush=True)
                break
            else:
                answer = f"error unknown command {command!r}"
            print(answer, flush=True)
    finally:
        fake.stop()


if __name__ == "__main__":
    _serve()
