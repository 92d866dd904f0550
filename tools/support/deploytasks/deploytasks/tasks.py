import time
from pathlib import Path

from django_tasks import task

from deploytasks.models import Ran

# <path>/<host>/releases/<release>/deploytasks/deploytasks/tasks.py
RELEASE = Path(__file__).resolve().parents[2]


@task()
def record(word, seconds=0.0):
    time.sleep(seconds)  # in progress for a while: a restart must let it finish
    Ran.objects.create(word=word, host=RELEASE.parents[1].name, release=RELEASE.name)
