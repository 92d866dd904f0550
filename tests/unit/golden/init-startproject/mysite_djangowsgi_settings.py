"""The settings of the site bin/buildout builds: the project's own, and what a
served site takes from its buildout. Written by djangowsgi init; yours to change
(init overwrites it only with --force)."""
import os

from mysite.settings import *  # noqa: F401,F403

# The buildout's var/ directory: set by the parts' environment in buildout.cfg.
VAR_DIR = os.environ["DJANGOWSGI_VAR_DIR"]
STATIC_ROOT = os.path.join(VAR_DIR, "static")
MEDIA_ROOT = os.path.join(VAR_DIR, "media")
DATABASES["default"]["NAME"] = os.path.join(VAR_DIR, "db", "db.sqlite3")

# From secrets.env, where set there.
if "DJANGO_SECRET_KEY" in os.environ:
    SECRET_KEY = os.environ["DJANGO_SECRET_KEY"]
if "DJANGO_ALLOWED_HOSTS" in os.environ:
    ALLOWED_HOSTS = [host.strip() for host in os.environ["DJANGO_ALLOWED_HOSTS"].split(",") if host.strip()]
# DEBUG off, whatever the project's settings say, unless secrets.env asks for it.
DEBUG = os.environ.get("DJANGO_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")

# Where the project sets no LOGGING of its own: Django's warnings and errors (a
# 500's traceback, a 400 for a name not in ALLOWED_HOSTS) to the standard error,
# which mod_wsgi writes to Apache's error log (var/log/apache/error.log).
if not globals().get("LOGGING"):
    LOGGING = {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"class": "logging.StreamHandler"}},
        "loggers": {"django": {"handlers": ["stderr"], "level": "WARNING"}},
    }
