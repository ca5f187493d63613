"""The settings every test runs with: the workbench's own (workbench/settings.py), and a fast
password hasher.

Django's default hasher, PBKDF2 at a million iterations, is what the workbench ships, and it costs
about half a second of CPU for every account made and every password checked, which the tests do
by the hundred. Here passwords are hashed with MD5, which is fast and good for nothing but tests.

pytest.ini names this module, and tests/live.py starts every daphne server and `manage.py` it runs
with it, so the servers that browser tests sign up and sign in on are fast too. Nothing outside
tests/ names it: a deployment, `make run` and manage.py use workbench.settings.
"""
from __future__ import annotations

from workbench.env import env_bool
from workbench.settings import *  # noqa: F403 - every setting of the workbench, then the overrides

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Automatic titles send one more request after a conversation's first reply, which tests of other
# things would find in the fake upstream's request log at a moment they do not choose: off, unless a
# test turns it on (tests/test_conversation_list_titles.py) or a live server's environment does.
AUTO_TITLES = env_bool("WORKBENCH_AUTO_TITLES", False)
