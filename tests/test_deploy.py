"""deploy/ works as written: nginx accepts the config and, run for real in front of a
hub, redirects to HTTPS, sends HSTS, limits log-ins, refuses big bodies, hides
/metrics and logs no query strings; the systemd units rate "OK" or better in
`systemd-analyze security`; the hub runs under MemoryDenyWriteExecute.

Tools that are missing skip these tests outside CI; in CI (.ci/run installs nginx)
a missing tool is a failure."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from benchmarks.util import free_port, wait_for_port
from hub.settings import REPO_ROOT, Settings

DEPLOY = REPO_ROOT / "deploy"
NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()),
                                       None)
IN_CI = bool(os.environ.get("CI"))
needs_nginx = pytest.mark.skipif(NGINX is None and not IN_CI,
                                 reason="nginx is not installed (.ci/run installs it)")
HOST = "appeals.example.gov.cn"


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "fullchain.pem", folder / "privkey.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", f"/CN={HOST}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def nginx_site(tmp: Path, http_port: int | None = None, https_port: int | None = None,
               upstream: int | None = None) -> Path:
    """deploy/nginx.conf with this machine's certificate, log and port paths, wrapped
    in a main configuration as nginx.conf would include it."""
    assert NGINX, "nginx is required in CI"
    cert, key = _certificate(tmp)
    site = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    site = site.replace(f"/etc/letsencrypt/live/{HOST}/fullchain.pem", str(cert))
    site = site.replace(f"/etc/letsencrypt/live/{HOST}/privkey.pem", str(key))
    site = site.replace("/var/log/nginx/", f"{tmp}/")
    if http_port:
        site = re.sub(r"listen \[::\]:\d+[^;]*;\n", "", site)
        site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
    if upstream:
        site = re.sub(r"server 127\.0\.0\.1:808\d [^;]*;",
                      f"server 127.0.0.1:{upstream} max_fails=3 fail_timeout=10s;", site, count=1)
        site = re.sub(r"\n\s*server 127\.0\.0\.1:808\d [^;]*;", "", site)
    (tmp / "hub.conf").write_text(site, encoding="utf-8")
    user = "user root;\n" if os.geteuid() == 0 else ""
    temps = "".join(f"{k}_temp_path {tmp}/{k};\n" for k in
                    ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = (f"{user}pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nworker_processes 1;\n"
            f"events {{ worker_connections 256; }}\nhttp {{\n{temps}"
            f"access_log {tmp}/access.log;\ninclude {tmp}/hub.conf;\n}}\n")
    (tmp / "nginx.conf").write_text(main, encoding="utf-8")
    return tmp / "nginx.conf"


@needs_nginx
def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    conf = nginx_site(tmp_path)
    done = subprocess.run([NGINX or "nginx", "-t", "-c", str(conf), "-p", str(tmp_path)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "syntax is ok" in done.stderr and "test is successful" in done.stderr
    site = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    for zone in ("hub_login", "hub_submit", "hub_lookup", "hub_evaluate"):
        assert f"zone={zone} " in site and f"zone={zone}:" in site


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Any]:
    procs: list[subprocess.Popen[bytes]] = []

    def start(upstream: int) -> tuple[int, int]:
        http_port, https_port = free_port(), free_port()
        conf = nginx_site(tmp_path, http_port, https_port, upstream)
        procs.append(subprocess.Popen([NGINX or "nginx", "-c", str(conf), "-p", str(tmp_path),
                                       "-g", "daemon off;"], stderr=subprocess.PIPE))
        wait_for_port(https_port, timeout=20)
        return http_port, https_port

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(timeout=20)


@needs_nginx
async def test_nginx_in_front_of_a_hub(settings: Settings, aiohttp_server: Any, nginx: Any,
                                       tmp_path: Path) -> None:
    from hub.app import create_app

    hub_server = await aiohttp_server(create_app(settings), port=free_port())
    http_port, https_port = nginx(hub_server.port)
    base = f"https://127.0.0.1:{https_port}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as http:
        async with http.get(f"http://127.0.0.1:{http_port}/lookup?number=1",
                            allow_redirects=False) as r:
            assert r.status == 301
            assert r.headers["Location"] == "https://127.0.0.1/lookup?number=1"
        async with http.get(f"{base}/healthz") as r:
            assert r.status == 200 and (await r.json())["status"] == "ok"
            assert r.headers["Strict-Transport-Security"].startswith("max-age=31536000")
        async with http.get(f"{base}/metrics") as r:
            assert r.status == 404  # never through the proxy
        async with http.get(f"{base}/api/v1/cases/2026113000001?code=SECRETCODE") as r:
            assert r.status in (404, 422)
        statuses = []
        for _ in range(12):  # a password-guessing burst from one address
            async with http.post(f"{base}/login", data={"username": "a", "password": "b"}) as r:
                statuses.append(r.status)
        assert statuses[:6].count(429) == 0 and statuses[-1] == 429, statuses
        async with http.get(f"{base}/login") as r:
            assert r.status == 200  # the form itself is not limited
        async with http.post(f"{base}/api/v1/appeals", data=b"x" * (2 << 20),
                             headers={"Content-Type": "application/json"}) as r:
            assert r.status == 413
    await asyncio.sleep(0.2)
    log = (tmp_path / "hub.access.log").read_text()
    assert "/api/v1/cases/2026113000001" in log and "SECRETCODE" not in log


# -- systemd ---------------------------------------------------------------------------------
UNITS = sorted(DEPLOY.glob("*.service"))
ANALYZE = shutil.which("systemd-analyze")


def _offline_supported() -> bool:
    if not ANALYZE:
        return False
    return "--offline" in subprocess.run([ANALYZE, "--help"], capture_output=True,
                                         text=True).stdout


@pytest.mark.skipif(not _offline_supported(),
                    reason="needs systemd-analyze with --offline (systemd 250+)")
@pytest.mark.parametrize("unit", UNITS, ids=[u.name for u in UNITS])
def test_systemd_units_are_hardened(unit: Path, tmp_path: Path) -> None:
    done = subprocess.run([ANALYZE or "", "security", "--offline=yes", str(unit)],
                          capture_output=True, text=True)
    found = re.search(r"Overall exposure level for \S+: ([\d.]+) (\w+)", done.stdout)
    assert found, done.stdout + done.stderr
    score, level = float(found.group(1)), found.group(2)
    assert level in ("PERFECT", "SAFE", "OK") and score <= 2.0, done.stdout
    text = unit.read_text()
    for setting in ("User=hub", "NoNewPrivileges=yes", "ProtectSystem=strict",
                    "ReadWritePaths=/var/lib/hub", "PrivateTmp=yes"):
        assert setting in text
    if "oneshot" not in text:
        assert "Restart=always" in text and "Requires=hub-init.service" in text
    verify = subprocess.run([ANALYZE or "", "verify", "--man=no", str(unit)],
                            capture_output=True, text=True)
    bad = [line for line in verify.stderr.splitlines()
           if "Unknown key" in line or "Invalid" in line or "Failed to parse" in line]
    assert not bad, verify.stderr


MDWE_SCRIPT = """
import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(65, 1, 0, 0, 0) != 0:
    sys.exit(77)
from hub.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _mdwe_available() -> bool:
    probe = subprocess.run([sys.executable, "-c", "import ctypes,sys;"
                            "sys.exit(ctypes.CDLL(None).prctl(65,1,0,0,0) != 0)"])
    return probe.returncode == 0


@pytest.mark.skipif(not _mdwe_available(), reason="the kernel has no PR_SET_MDWE (Linux 6.3+)")
def test_the_hub_runs_without_writable_executable_memory(settings: Settings) -> None:
    """The units set MemoryDenyWriteExecute=yes: the kernel's own W^X switch (prctl
    PR_SET_MDWE) proves no dependency (argon2's cffi, numpy, sklearn, rjieba, uvloop,
    psycopg) needs writable code pages, through a start-up and a routed appeal."""
    env = {**os.environ, "HUB_ENV": "test", "HUB_DATABASE_URL": settings.database_url,
           "HUB_VAR_DIR": str(settings.var_dir), "HUB_MODEL_PATH": str(settings.model_path),
           "HUB_USER_PASSWORD": "correct horse battery staple"}
    for args in (["init"], ["classify", "A7县星沙街道某小区燃气泄漏，物业不管"],
                 ["user", "add", "mdwe", "--role", "admin"], ["jobs"]):
        done = subprocess.run([sys.executable, "-c", MDWE_SCRIPT, *args], env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, (args, done.stderr[-2000:])
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", MDWE_SCRIPT, "serve", "--port", str(port)],
                            env={**env, "HUB_SCHEDULER": "1", "HUB_PIPELINE": "1"},
                            stderr=subprocess.PIPE)
    try:
        wait_for_port(port, timeout=120)
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=30) as r:
            assert r.status == 200
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert proc.returncode in (0, -15), err.decode()[-2000:]


def test_the_env_file_and_the_cli_wrapper_are_what_the_hub_reads() -> None:
    from hub.settings import ENV_VARS

    known = {v.name for v in ENV_VARS}
    example = (DEPLOY / "hub.env.example").read_text(encoding="utf-8")
    named = set(re.findall(r"^#? ?(HUB_[A-Z_]+)=", example, flags=re.M))
    keys = {"HUB_KEY_HOTLINE_PUSH", "HUB_KEY_WEB"}  # named by config/sources.toml
    assert named - known == keys, named - known
    assert {"HUB_ENV", "HUB_DATABASE_URL", "HUB_SECRET_KEY", "HUB_CONFIG_DIR"} <= named
    wrapper = DEPLOY / "hub-cli"
    assert os.access(wrapper, os.X_OK)
    assert subprocess.run(["sh", "-n", str(wrapper)]).returncode == 0
    assert "EnvironmentFile=/etc/hub/hub.env" in wrapper.read_text()
