"""Production settings of the example site (``settings_dev`` is for runserver).

What differs between machines comes from the environment, which the buildout
parts set (``environment`` and ``environment-file`` options): COLEMAN_VAR_DIR,
DJANGO_SECRET_KEY, COLEMAN_ALLOWED_HOSTS, COLEMAN_DEBUG, and for several hosts
COLEMAN_DATABASE_* (PostgreSQL) and COLEMAN_MEDIA_ROOT.
"""
import os
from pathlib import Path

VAR_DIR = Path(os.environ.get("COLEMAN_VAR_DIR", Path(__file__).resolve().parent.parent / "var"))
try:
    (VAR_DIR / "db").mkdir(parents=True, exist_ok=True)
except OSError:  # a web server's user may not create it; it was made at build time
    pass

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "coleman-example-key-not-for-production")
DEBUG = os.environ.get("COLEMAN_DEBUG", "") == "1"
ALLOWED_HOSTS = os.environ.get("COLEMAN_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "coleman",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

# HTTPS ended at the balancer: its X-Forwarded-Proto says so. Safe with djangowsgi's
# Apache, which removes that header from anyone but the trusted-proxies.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

ROOT_URLCONF = "coleman.urls"
WSGI_APPLICATION = "coleman.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": VAR_DIR / "db" / "db.sqlite3",
    }
}
# Several hosts share one database server: COLEMAN_DATABASE_HOST selects PostgreSQL
# (psycopg among the eggs), its password from secrets.env.
if os.environ.get("COLEMAN_DATABASE_HOST"):
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "HOST": os.environ["COLEMAN_DATABASE_HOST"],
        "PORT": os.environ.get("COLEMAN_DATABASE_PORT", "5432"),
        "NAME": os.environ.get("COLEMAN_DATABASE_NAME", "coleman"),
        "USER": os.environ.get("COLEMAN_DATABASE_USER", "coleman"),
        "PASSWORD": os.environ.get("COLEMAN_DATABASE_PASSWORD", ""),
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
# What Django recommends in production: hashed names, cached for ever by browsers.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
}
MEDIA_URL = "/media/"
# Storage the hosts share, for several hosts (COLEMAN_MEDIA_ROOT); var/media on one.
MEDIA_ROOT = Path(os.environ.get("COLEMAN_MEDIA_ROOT", VAR_DIR / "media"))

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
