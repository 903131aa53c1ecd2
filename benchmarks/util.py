"""Helpers shared by the benchmarks."""

from __future__ import annotations

import os
import random
import socket
import subprocess
import time


def free_port() -> int:
    """A free local port; from ``HUB_TEST_PORTS`` (e.g. 18300-18399) when set, so runs
    sharing a machine can keep to the ports they were given."""
    span = os.environ.get("HUB_TEST_PORTS", "")
    if span:
        low, high = (int(p) for p in span.split("-"))
        for port in random.sample(range(low, high + 1), high - low + 1):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
        raise RuntimeError(f"no free port in HUB_TEST_PORTS={span}")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listening on {port}")


def peak_rss_mb(pid: int) -> float:
    """VmHWM: the process's peak resident set size."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stop(processes: list[subprocess.Popen[bytes]], timeout: float = 30) -> None:
    """Ask every process to stop, give them ``timeout`` seconds together, then kill."""
    for proc in processes:
        if proc.poll() is None:
            proc.terminate()
    for proc in processes:
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
