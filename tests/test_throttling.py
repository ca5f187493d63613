"""Brute force and mass sign-up: failed sign-ins lock a username out for one client address
(django-axes, in the database), and each client address may create only so many accounts."""
from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.db.models import F
from django.test import Client, RequestFactory
from django.urls import reverse

from conversations.accounts.throttling import client_address
from conversations.models import SignupWindow
from tests.conftest import PASSWORD
from tests.live import ROOT, LiveServer

LOCKED = "Too many failed sign-in attempts. Try again in 15 minutes."
WRONG = b"Please enter a correct username and password"
SIGNUP_REFUSED = "Too many accounts have been created from your network. Try again in 60 minutes."


@pytest.fixture(autouse=True)
def limits(settings):
    """The shipped defaults, whatever the environment running the tests says."""
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.AXES_COOLOFF_TIME = timedelta(minutes=15)
    settings.CLIENT_IP_HEADER = ""
    settings.SIGNUP_LIMIT = 5
    settings.SIGNUP_WINDOW_MINUTES = 60


def sign_in(client: Client, username: str, password: str, **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def fail(client: Client, username: str, times: int, **extra) -> list[int]:
    return [sign_in(client, username, "wrong", **extra).status_code for _ in range(times)]


# --- Failed sign-ins -------------------------------------------------------------------------


def test_wrong_passwords_lock_the_username_out_for_that_address(client, alice):
    assert fail(client, "alice", 4) == [200] * 4
    response = sign_in(client, "alice", "wrong")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    # The site's own sign-in page, with the reason, not axes' bare text.
    assert LOCKED in page and "<h1>Sign in</h1>" in page and 'name="username"' in page
    assert "Account locked" not in page

    # The right password is refused too while the lockout lasts, and signs nobody in.
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 429 and LOCKED in response.content.decode()
    assert not signed_in(client)
    assert client.get(reverse("home")).status_code == 302


def test_the_lockout_ends_after_the_cool_off(client, alice, settings):
    fail(client, "alice", 5)
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    # The failures, the last one included, happened a cool-off ago.
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - settings.AXES_COOLOFF_TIME)
    response = sign_in(client, "alice", PASSWORD)
    assert response.status_code == 302 and response.url == reverse("home")
    assert signed_in(client)


def test_a_successful_sign_in_starts_the_count_again(client, alice):
    assert fail(client, "alice", 4) == [200] * 4
    assert sign_in(client, "alice", PASSWORD).status_code == 302
    assert not AccessAttempt.objects.exists()
    client.post(reverse("logout"))
    assert fail(client, "alice", 4) == [200] * 4
    assert sign_in(client, "alice", PASSWORD).status_code == 302


def test_a_lockout_holds_for_that_username_and_address_only(client, alice, charlie):
    fail(client, "alice", 5)
    assert sign_in(client, "alice", PASSWORD).status_code == 429
    # Someone else failing from elsewhere cannot lock alice out where she is...
    elsewhere = Client()
    assert sign_in(elsewhere, "alice", PASSWORD, REMOTE_ADDR="10.0.0.2").status_code == 302
    # ...nor another person at the same address.
    neighbour = Client()
    assert sign_in(neighbour, "charlie", PASSWORD).status_code == 302


def test_failures_for_an_account_that_does_not_exist_lock_out_too(client, db):
    # Otherwise the page would tell an attacker which usernames exist.
    assert fail(client, "nobody", 5) == [200] * 4 + [429]


def test_a_forged_forwarding_header_does_not_escape_the_lockout(client, alice):
    statuses = [
        sign_in(
            client, "alice", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}", HTTP_X_REAL_IP=f"203.0.113.{n}"
        ).status_code
        for n in range(5)
    ]
    assert statuses == [200] * 4 + [429]
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


def test_behind_a_proxy_the_configured_header_names_the_client(client, alice, settings):
    settings.CLIENT_IP_HEADER = "X-Forwarded-For"
    proxy = {"REMOTE_ADDR": "10.0.0.1"}
    # The client forges a first address; the proxy appends the one it saw.
    statuses = [
        sign_in(client, "alice", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}, 203.0.113.7", **proxy).status_code
        for n in range(5)
    ]
    assert statuses == [200] * 4 + [429]
    # Another client behind the same proxy is not locked out.
    response = sign_in(Client(), "alice", PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.8", **proxy)
    assert response.status_code == 302


@pytest.mark.parametrize(
    "header,meta,expected",
    [
        ("", {"REMOTE_ADDR": "192.0.2.4", "HTTP_X_FORWARDED_FOR": "198.51.100.1"}, "192.0.2.4"),
        ("X-Real-IP", {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_REAL_IP": "192.0.2.4"}, "192.0.2.4"),
        ("X-Forwarded-For", {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 192.0.2.4"}, "192.0.2.4"),
        # Not sent through the proxy, or garbage in the header: the connection's address.
        ("X-Real-IP", {"REMOTE_ADDR": "192.0.2.4"}, "192.0.2.4"),
        ("X-Real-IP", {"REMOTE_ADDR": "192.0.2.4", "HTTP_X_REAL_IP": "'; drop table"}, "192.0.2.4"),
        # An IPv6 client stands for its /64; an IPv4 client seen over IPv6 for its IPv4 address.
        ("", {"REMOTE_ADDR": "2001:db8:1:2:aaaa:bbbb:cccc:dddd"}, "2001:db8:1:2::"),
        ("", {"REMOTE_ADDR": "::ffff:192.0.2.4"}, "192.0.2.4"),
        ("", {"REMOTE_ADDR": ""}, None),
    ],
)
def test_the_client_address(settings, header, meta, expected):
    settings.CLIENT_IP_HEADER = header
    request = RequestFactory().get("/")
    request.META.pop("REMOTE_ADDR")
    request.META.update(meta)
    assert client_address(request) == expected


def test_the_failure_limit_and_cool_off_are_settings(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 2
    settings.AXES_COOLOFF_TIME = timedelta(minutes=1)
    response = sign_in(client, "alice", "wrong")
    assert response.status_code == 200
    response = sign_in(client, "alice", "wrong")
    assert response.status_code == 429
    assert "Too many failed sign-in attempts. Try again in 1 minute." in response.content.decode()
    assert response["Retry-After"] == "60"


def test_the_lockout_can_be_turned_off(client, alice, settings):
    settings.AXES_ENABLED = False
    assert fail(client, "alice", 10) == [200] * 10
    assert sign_in(client, "alice", PASSWORD).status_code == 302


# --- Sign-ups --------------------------------------------------------------------------------


def sign_up(username: str, password: str = PASSWORD, **extra):
    # A fresh client each time: a signed-in person is sent home instead of signing up.
    return Client().post(
        reverse("signup"), {"username": username, "password1": password, "password2": password}, **extra
    )


def test_accounts_created_from_one_address_are_limited(db):
    assert [sign_up(f"farm{n}").status_code for n in range(5)] == [302] * 5
    users = User.objects.count()

    response = sign_up("farm5")
    assert response.status_code == 429
    page = response.content.decode()
    assert SIGNUP_REFUSED in page and "<h1>Create an account</h1>" in page
    # Nothing written: no account, the count as it was, nobody signed in.
    assert User.objects.count() == users and not User.objects.filter(username="farm5").exists()
    assert SignupWindow.objects.get().accounts == 5
    assert "_auth_user_id" not in response.client.session

    # Another address is unaffected.
    assert sign_up("farm6", REMOTE_ADDR="192.0.2.9").status_code == 302


def test_an_ipv6_subscriber_counts_as_one_client(db, settings):
    settings.SIGNUP_LIMIT = 2
    addresses = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::3"]
    assert [sign_up(f"v6user{n}", REMOTE_ADDR=a).status_code for n, a in enumerate(addresses)] == [302, 302, 429]


def test_sign_ups_open_again_when_the_window_ends(db, settings):
    settings.SIGNUP_LIMIT = 2
    assert [sign_up(f"later{n}").status_code for n in range(3)] == [302, 302, 429]
    # The window started an hour ago.
    SignupWindow.objects.update(started=F("started") - timedelta(minutes=60))
    assert sign_up("later3").status_code == 302
    assert SignupWindow.objects.get().accounts == 1


def test_refused_and_invalid_sign_ups_use_none_of_the_allowance(db, settings, alice):
    settings.SIGNUP_LIMIT = 1
    assert sign_up("alice").status_code == 200  # taken
    assert sign_up("short", password="x").status_code == 200  # too short
    assert not SignupWindow.objects.exists()
    assert sign_up("dora").status_code == 302
    assert sign_up("erin").status_code == 429
    assert sign_up("erin").status_code == 429
    assert SignupWindow.objects.get().accounts == 1


def test_the_sign_up_limit_and_window_are_settings(db, settings):
    settings.SIGNUP_LIMIT = 1
    settings.SIGNUP_WINDOW_MINUTES = 1
    assert sign_up("one").status_code == 302
    response = sign_up("two")
    assert response.status_code == 429
    assert "Try again in 1 minute." in response.content.decode()


def test_the_sign_up_limit_can_be_turned_off(db, settings):
    settings.SIGNUP_LIMIT = 0
    assert [sign_up(f"open{n}").status_code for n in range(7)] == [302] * 7
    assert not SignupWindow.objects.exists()


# --- The environment -------------------------------------------------------------------------

SHOW_LIMITS = (
    "from django.conf import settings as s; "
    "print(s.AXES_ENABLED, s.AXES_FAILURE_LIMIT, s.AXES_COOLOFF_TIME, s.SIGNUP_LIMIT, s.SIGNUP_WINDOW_MINUTES)"
)


def run_settings(tmp_path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", SHOW_LIMITS],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "WORKBENCH_DATA_DIR": str(tmp_path), "WORKBENCH_LOCAL_MODEL": "false", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_the_limits_come_from_the_environment(tmp_path):
    assert run_settings(tmp_path).stdout.split() == ["True", "5", "0:15:00", "5", "60"]
    configured = run_settings(
        tmp_path,
        WORKBENCH_LOGIN_FAILURE_LIMIT="3",
        WORKBENCH_LOGIN_COOLOFF_MINUTES="30",
        WORKBENCH_SIGNUP_LIMIT="2",
        WORKBENCH_SIGNUP_WINDOW_MINUTES="1440",
    )
    assert configured.stdout.split() == ["True", "3", "0:30:00", "2", "1440"]
    off = run_settings(tmp_path, WORKBENCH_LOGIN_FAILURE_LIMIT="0", WORKBENCH_SIGNUP_LIMIT="0")
    assert off.stdout.split()[0] == "False" and off.stdout.split()[3] == "0"


def test_a_bad_client_address_header_stops_the_start(tmp_path):
    result = run_settings(tmp_path, WORKBENCH_CLIENT_IP_HEADER="X-Real-IP: 1.2.3.4")
    assert result.returncode != 0
    assert "WORKBENCH_CLIENT_IP_HEADER='X-Real-IP: 1.2.3.4' is not a header name" in result.stderr


# --- On daphne, two processes sharing one database -------------------------------------------


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    folder = tmp_path_factory.mktemp("throttle")
    env = {
        "SECRET_KEY": "throttle-test-key-" + "x" * 40,
        "WORKBENCH_LOCAL_MODEL": "false",
        "WORKBENCH_LOGIN_FAILURE_LIMIT": "3",
        "WORKBENCH_SIGNUP_LIMIT": "2",
    }
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        env["DATABASE_URL"] = f"sqlite:///{folder / 'shared.sqlite3'}"
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    first = LiveServer(folder / "a", env).start()
    second = LiveServer(folder / "b", env, shared_with=first).start()
    yield first, second
    second.stop()
    first.stop()


def post_form(base: str, path: str, fields: dict[str, str]) -> tuple[int, str]:
    """Fetch a form for its CSRF token and post it with a cookie jar of its own, as a browser
    would: (status, page)."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    form = opener.open(base + path, timeout=60).read().decode()
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form)
    assert found, form
    token = found.group(1)
    data = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **fields}).encode()
    try:
        with opener.open(base + path, data=data, timeout=60) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_failures_on_every_process_count_toward_one_lockout(two_processes):
    first, second = two_processes
    first.run_python(
        f'from django.contrib.auth.models import User; User.objects.create_user("dana", password="{PASSWORD}")'
    )
    path = "/accounts/login/"
    assert post_form(first.url, path, {"username": "dana", "password": "wrong"})[0] == 200
    assert post_form(second.url, path, {"username": "dana", "password": "wrong"})[0] == 200
    status, page = post_form(first.url, path, {"username": "dana", "password": "wrong"})
    assert status == 429
    assert "Too many failed sign-in attempts. Try again in 15 minutes." in page and "<h1>Sign in</h1>" in page
    status, page = post_form(second.url, path, {"username": "dana", "password": PASSWORD})
    assert status == 429 and "Try again in 15 minutes." in page


def test_sign_ups_on_every_process_count_toward_one_limit(two_processes):
    first, second = two_processes
    path = "/accounts/signup/"

    def fields(username: str) -> dict[str, str]:
        return {"username": username, "password1": PASSWORD, "password2": PASSWORD}

    assert post_form(first.url, path, fields("ana"))[0] == 200  # followed to the home page
    assert post_form(second.url, path, fields("ben"))[0] == 200
    status, page = post_form(first.url, path, fields("cai"))
    assert status == 429 and SIGNUP_REFUSED in page
    status, page = post_form(second.url, path, fields("cai"))
    assert status == 429
    count = (
        "from django.contrib.auth.models import User; "
        "print(User.objects.filter(username__in=['ana', 'ben', 'cai']).count())"
    )
    assert first.run_python(count).split()[-1] == "2"
