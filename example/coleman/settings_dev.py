"""Development settings: ``bin/django runserver --settings coleman.settings_dev``
serves static files from the apps' directories, with no collectstatic."""
from coleman.settings import *  # noqa: F401,F403

DEBUG = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
