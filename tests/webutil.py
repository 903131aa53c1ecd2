"""Helpers for driving the web pages through a real aiohttp client."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from hub.core import Hub
from hub.db import transaction
from hub.web.auth import add_user

PASSWORD = "correct horse battery"
STAFF = {  # username: (role, unit)
    "disp": ("dispatcher", None), "sup": ("supervisor", None), "op": ("operator", None),
    "adm": ("admin", None), "zj": ("unit", "zhujian"), "jt": ("unit", "jiaotong"),
}


def make_staff(hub: Hub) -> None:
    with transaction(hub.sessions) as s:
        for name, (role, unit) in STAFF.items():
            add_user(s, name, PASSWORD, role, display_name=name, unit_code=unit)


def read(hub: Hub, query: Callable[[Session], Any]) -> Any:
    """One read in a session closed afterwards: a session left open holds its
    transaction on PostgreSQL, and the next test's TRUNCATE waits for it for ever."""
    with hub.sessions() as s:
        return query(s)


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, "the page has no CSRF field"
    return match.group(1)


async def login(client: Any, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; returns the session's CSRF token."""
    page = await (await client.get("/login")).text()
    resp = await client.post("/login", data={"username": username, "password": password,
                                             "csrf": csrf_in(page), "next": "/inbox"},
                             allow_redirects=False)
    assert resp.status == 303, await resp.text()
    inbox = await (await client.get("/inbox")).text()
    return csrf_in(inbox)


async def logout(client: Any, csrf: str) -> None:
    await client.post("/logout", data={"csrf": csrf}, allow_redirects=False)
    client.session.cookie_jar.clear()


async def submit_as_citizen(client: Any, title: str, body: str, name: str,
                            phone: str) -> tuple[str, str, int]:
    """A citizen's appeal through the public form, processed (manual triage): its
    number, query code and case id."""
    from sqlalchemy import select

    from hub.models import Case
    from hub.pipeline import ManualTriage, Pipeline

    hub = client.app["hub"]
    form = await (await client.get("/submit")).text()
    resp = await client.post("/submit", data={"csrf": csrf_in(form), "title": title,
                                              "body": body, "contact_name": name,
                                              "contact_phone": phone})
    text = await resp.text()
    number = re.search(r'id="number">(\d+)<', text)
    code = re.search(r'id="code">([A-Z0-9]{6})<', text)
    assert number and code, text
    await hub.run(Pipeline(hub, ManualTriage()).drain)
    case_id = await hub.run(read, hub, lambda s: s.scalar(
        select(Case.id).where(Case.number == number.group(1))))
    return number.group(1), code.group(1), case_id


async def act_on_case(client: Any, case_id: int, csrf: str, saved: bool = True,
                      **fields: str) -> str:
    """Post an action from the case page with the version it shows; asserts whether
    it was saved (``saved``) and returns the page."""
    page = await (await client.get(f"/cases/{case_id}")).text()
    version = re.search(r'name="version" value="(\d+)"', page)
    assert version, page
    resp = await client.post(f"/cases/{case_id}/act",
                             data={"csrf": csrf, "version": version.group(1), **fields})
    text = await resp.text()
    assert ("已保存" in text) == saved, text
    assert resp.status == 200 or not saved, text
    return text
