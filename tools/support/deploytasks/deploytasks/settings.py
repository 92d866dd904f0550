from coleman.settings import *  # noqa: F403 - the example's settings, and a task queue

INSTALLED_APPS = INSTALLED_APPS + ["django_tasks", "django_tasks_db", "deploytasks"]  # noqa: F405
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
ROOT_URLCONF = "deploytasks.urls"
