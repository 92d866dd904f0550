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
if "DJANGO_DEBUG" in os.environ:
    DEBUG = os.environ["DJANGO_DEBUG"].strip().lower() in ("1", "true", "yes", "on")
