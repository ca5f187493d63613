"""Attachments on a real daphne server: an upload goes through and is served with its headers, a
file over the limit is answered 413, and the server keeps its files in its own folder (never in
var/)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conversations.attachments.storage import blob_name, digest
from tests import attachment_files as sample
from tests.test_liveness import run_async

SEED = """
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth.models import User
from django.contrib.sessions.backends.db import SessionStore
user = User.objects.create_user("uploader")
session = SessionStore()
session[SESSION_KEY] = str(user.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = user.get_session_auth_hash()
session.create()
print(session.session_key)
"""
CSRF = "a" * 32  # a CSRF secret of the right shape, sent as the cookie and the header


async def exchange(url: str, session_key: str, files: list[tuple[str, bytes]]):
    import aiohttp

    cookies = {"sessionid": session_key, "csrftoken": CSRF}
    results = []
    async with aiohttp.ClientSession(cookies=cookies) as http:
        for name, data in files:
            form = aiohttp.FormData()
            form.add_field("file", data, filename=name)
            async with http.post(url + "/files/", data=form, headers={"X-CSRFToken": CSRF}) as response:
                body = await response.json()
                served = None
                if response.status == 201:
                    async with http.get(url + body["url"]) as got:
                        served = (await got.read(), dict(got.headers))
                results.append((response.status, body, served))
    return results


@pytest.mark.django_db
def test_an_upload_through_daphne_is_stored_in_the_servers_folder_and_served(workbench_server):
    pytest.importorskip("aiohttp")
    session_key = workbench_server.run_python(SEED).strip().splitlines()[-1]
    options = json.loads(workbench_server.env["WORKBENCH_ATTACHMENT_STORAGE_OPTIONS"])
    location = Path(options["location"])
    assert location.parent == Path(workbench_server.env["WORKBENCH_DATA_DIR"])
    too_big = b"x" * (20 * 1024 * 1024 + 1)
    (status, body, served), (big_status, big_body, _) = run_async(
        exchange(workbench_server.url, session_key, [("red.png", sample.png_with_html()), ("big.txt", too_big)])
    )
    assert status == 201, body
    data, headers = served
    assert b"<html" not in data and data.startswith(b"\x89PNG")
    assert headers["Content-Type"] == "image/png" and headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert (location / blob_name(digest(data))).read_bytes() == data
    assert big_status == 413
    assert big_body["error"] == (
        "big.txt is 20,971,521 bytes: a file may be at most 20,971,520 bytes (WORKBENCH_ATTACHMENT_MAX_FILE_BYTES).")
