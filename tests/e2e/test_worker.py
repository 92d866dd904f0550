"""djangowsgi:worker with real task queues: django-tasks' database backend and two
``db_worker`` processes under bin/<part>'s supervisor, and Celery on a Redis server
of the test's own (Debian's redis-server), for a project of the test's own. A view
enqueues tasks and the workers run them; a killed worker is started again; stop
is a warm shutdown, the task in progress finishing, and restart one too; the
systemd unit is valid; bad input is one line."""
import os
import re
import signal
import subprocess
import textwrap

import pytest

from conftest import DOWNLOADS, EGGS, REPO, call_wsgi, free_port
from helpers import doc_block, one_line_error
from support.pins import TASK_PINS, versions
from test_balancer import wait_until

JOBSITE = {
    "setup.py": """
        from setuptools import setup
        setup(name="jobsite", version="0.1",
              packages=["jobsite", "jobsite.migrations", "jobsite.management", "jobsite.management.commands"],
              install_requires=["Django", "django-tasks-db[compat]", "celery[redis]"])
        """,
    "jobsite/__init__.py": "",
    "jobsite/migrations/__init__.py": "",
    "jobsite/settings.py": """
        import os
        SECRET_KEY = "worker-test"
        ALLOWED_HOSTS = ["localhost"]
        ROOT_URLCONF = "jobsite.urls"
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.sessions", "django_tasks",
                          "django_tasks_db", "jobsite"]
        VAR = os.environ["JOBSITE_VAR"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(VAR, "db.sqlite3"),
                                 "OPTIONS": {"timeout": 20}}}
        TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
        USE_TZ = True
        """,
    "jobsite/tasks.py": """
        import os
        import time

        from django.conf import settings
        from django_tasks import task


        def note(line):
            with open(os.path.join(settings.VAR, "done.txt"), "a") as f:
                f.write(line + "\\n")


        @task()
        def record(word, seconds=0):
            note(f"started {word} in {os.getpid()}")
            time.sleep(seconds)
            note(f"done {word}")
        """,
    "jobsite/celery.py": """
        import os
        import time

        from celery import Celery

        app = Celery("jobsite", broker=os.environ["JOBSITE_BROKER"])


        @app.task
        def record_celery(word, seconds=0.0):
            from jobsite.tasks import note

            note(f"celery started {word} in {os.getpid()}")
            time.sleep(seconds)
            note(f"celery done {word}")
        """,
    "jobsite/management/__init__.py": "",
    "jobsite/management/commands/__init__.py": "",
    "jobsite/management/commands/report.py": """
        import time

        from django.core.management.base import BaseCommand

        from jobsite.tasks import note


        class Command(BaseCommand):
            def add_arguments(self, parser):
                parser.add_argument("--seconds", type=float, default=0)

            def handle(self, seconds, **options):
                note("report started")
                time.sleep(seconds)
                note("report done")
                self.stdout.write("report written")
        """,
    "jobsite/urls.py": """
        from django.http import HttpResponse
        from django.urls import path

        from jobsite.tasks import record


        def enqueue(request, word, seconds):
            result = record.enqueue(word, float(seconds))
            return HttpResponse(str(result.id))


        def enqueue_celery(request, word, seconds):
            from jobsite.celery import record_celery

            return HttpResponse(str(record_celery.delay(word, float(seconds)).id))


        urlpatterns = [path("enqueue/<str:word>/<str:seconds>/", enqueue),
                       path("celery/<str:word>/<str:seconds>/", enqueue_celery)]
        """,
}
# Celery 5.7.0 with Redis and what they need (Debian 12's Python 3.11.2: async-timeout too).
CELERY_PINS = {"celery": "5.7.0", "kombu": "5.7.0", "billiard": "4.3.2", "vine": "5.1.0", "amqp": "5.4.2",
               "click": "8.5.1", "click-didyoumean": "0.3.1", "click-plugins": "1.1.1.2", "click-repl": "0.4.1",
               "prompt-toolkit": "3.0.53", "wcwidth": "0.9.4", "python-dateutil": "2.9.0.post0", "six": "1.17.0",
               "tzlocal": "5.4.5", "redis": "8.1.0", "async-timeout": "5.0.1", "packaging": "26.3"}
GUIDE = REPO / "docs" / "workers.rst"
PARTS = doc_block(GUIDE, "beside the django and wsgi parts:")
CELERY = doc_block(GUIDE, "a worker part of its own:")


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    """A Redis server of the test's own on loopback: Celery's broker."""
    port = free_port()
    directory = tmp_path_factory.mktemp("redis")
    server = subprocess.Popen(["/usr/bin/redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                               "--appendonly", "no", "--dir", str(directory)], stdout=subprocess.DEVNULL)
    wait_until(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True,
                                      text=True).stdout.strip() == "PONG", 15)
    yield port
    server.terminate()
    server.wait(timeout=10)


def config(parts=PARTS, redis_port=6379):
    pins = {**versions(), **TASK_PINS, **CELERY_PINS}
    return (f"[buildout]\ndevelop = {REPO} .\nparts = django wsgi tasks celery jobs\neggs-directory = {EGGS}\n"
            f"download-cache = {DOWNLOADS}\nallow-picked-versions = false\n\n"
            + (parts + "\n" + CELERY).replace("redis://127.0.0.1:6379/", f"redis://127.0.0.1:{redis_port}/")
            + "\n[versions]\n" + "".join(f"{name} = {version}\n" for name, version in pins.items()))


@pytest.fixture(scope="module")
def jobsite(new_buildout, redis):
    buildout = new_buildout("worker")
    for name, text in JOBSITE.items():
        path = buildout.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    buildout.path("var").mkdir()
    buildout.path("buildout.cfg").write_text(config(redis_port=redis))
    buildout.redis_port = redis
    buildout.run()
    buildout.bin("django", "migrate", "--noinput")
    # The workers run under the site's account (www-data, buildout running as root), as the
    # apache part's daemons do: what they write is theirs (the apache part's writable, here by hand).
    subprocess.run(["chown", "-R", "www-data:www-data", str(buildout.path("var"))], check=True)
    yield buildout
    buildout.bin("tasks", "stop", check=False)
    buildout.bin("celery", "stop", check=False)


def enqueue(jobsite, word, seconds=0):
    status, body, _ = call_wsgi(jobsite.path("parts", "wsgi", "wsgi.wsgi"), f"/enqueue/{word}/{seconds}/")
    return status, body


def done(jobsite):
    path = jobsite.path("var", "done.txt")
    return path.read_text().splitlines() if path.exists() else []


def worker_pids(jobsite):
    return [int(pid) for pid in re.findall(r"worker \d+: pid (\d+)", jobsite.bin("tasks", "status").stdout)]


def test_a_view_enqueues_tasks_and_the_two_workers_run_each_once(jobsite):
    started = jobsite.bin("tasks", "start").stdout
    assert re.search(r"\[tasks\] started 2 worker\(s\) \(pids \d+, \d+\)", started), started
    words = [f"w{n}" for n in range(6)]
    for word in words:
        assert enqueue(jobsite, word)[0].startswith("200")
    wait_until(lambda: sum(line.startswith("done ") for line in done(jobsite)) == len(words))
    assert sorted(line for line in done(jobsite) if line.startswith("done ")) == [f"done {w}" for w in words]
    assert len(worker_pids(jobsite)) == 2
    assert jobsite.bin("tasks", "logs", "-n", "500").stdout.count("Starting worker worker_id=") >= 2  # each's output


def test_a_killed_worker_is_started_again_by_the_supervisor(jobsite):
    jobsite.bin("tasks", "start")
    before = worker_pids(jobsite)
    os.kill(before[0], signal.SIGKILL)
    wait_until(lambda: len(worker_pids(jobsite)) == 2 and before[0] not in worker_pids(jobsite))
    assert "restarted 1 time(s)" in jobsite.bin("tasks", "status").stdout
    assert enqueue(jobsite, "after-kill")[0].startswith("200")
    wait_until(lambda: "done after-kill" in done(jobsite))


def test_stop_is_a_warm_shutdown_the_task_in_progress_finishes(jobsite):
    jobsite.bin("tasks", "start")
    enqueue(jobsite, "slow", seconds=3)
    wait_until(lambda: any(line.startswith("started slow") for line in done(jobsite)))
    stopped = jobsite.bin("tasks", "stop")
    assert "[tasks] stopped." in stopped.stdout
    assert "done slow" in done(jobsite)  # finished on the old process before it exited
    assert jobsite.bin("tasks", "status", check=False).returncode == 3
    assert not [p for p in worker_pids_from_proc(jobsite)]


def test_restart_is_a_warm_shutdown_then_new_workers_under_the_same_supervisor(jobsite):
    """What a deploy runs after a switch: the task in progress finishes on the old
    worker, then new workers start; the supervisor keeps its pid (systemd's, the pid file's)."""
    jobsite.bin("tasks", "start")
    supervisor = re.search(r"supervisor pid (\d+)", jobsite.bin("tasks", "status").stdout).group(1)
    before = worker_pids(jobsite)
    enqueue(jobsite, "during-restart", seconds=3)
    wait_until(lambda: any(line.startswith("started during-restart") for line in done(jobsite)))
    restarted = jobsite.bin("tasks", "restart").stdout
    assert "done during-restart" in done(jobsite)  # before the new workers started
    assert re.search(rf"\[tasks\] restarted 2 worker\(s\) \(pids \d+, \d+\) on "
                     rf"{jobsite.path('parts', 'tasks', 'worker')}, supervisor pid {supervisor}\n", restarted), restarted
    after = worker_pids(jobsite)
    assert len(after) == 2 and not set(after) & set(before)
    assert f"supervisor pid {supervisor}," in jobsite.bin("tasks", "status").stdout
    enqueue(jobsite, "after-restart")
    wait_until(lambda: "done after-restart" in done(jobsite))
    assert [line for line in done(jobsite) if line.startswith("started during-restart")][-1:] == [
        f"started during-restart in {before[0]}"] or f"started during-restart in {before[1]}" in done(jobsite)


def test_celery_on_redis_runs_each_task_once_and_stops_warm(jobsite):
    """The second task queue: ``script = celery -A jobsite worker``, a console script
    of the eggs, with the broker on the test's Redis."""
    started = jobsite.bin("celery", "start").stdout
    assert re.search(r"\[celery\] started 1 worker\(s\)", started), started
    words = [f"c{n}" for n in range(5)]
    for word in words:
        status, _ = call_celery(jobsite, word)
        assert status.startswith("200")
    wait_until(lambda: sum(line.startswith("celery done c") for line in done(jobsite)) == len(words), 60)
    assert sorted(line for line in done(jobsite) if line.startswith("celery done c")) == [
        f"celery done {w}" for w in words]
    call_celery(jobsite, "slow", 3)
    wait_until(lambda: "celery started slow" in " ".join(done(jobsite)), 30)
    assert "[celery] stopped." in jobsite.bin("celery", "stop").stdout
    assert "celery done slow" in done(jobsite)  # the warm shutdown let it finish
    log = jobsite.bin("celery", "logs", "-n", "500").stdout
    assert "celery@" in log and "ready." in log


def call_celery(jobsite, word, seconds=0):
    status, body, _ = call_wsgi(jobsite.path("parts", "wsgi", "wsgi.wsgi"), f"/celery/{word}/{seconds}/")
    return status, body


def worker_pids_from_proc(jobsite):
    worker = str(jobsite.path("parts", "tasks", "worker"))
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if worker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                pass
    return found


def test_the_systemd_unit_is_valid(jobsite):
    unit = jobsite.path("parts", "tasks", f"djangowsgi-{jobsite.directory.name}-tasks.service")
    result = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    problems = [line for line in result.stderr.splitlines() if str(unit) in line]
    assert result.returncode == 0 and not problems, result.stderr
    assert f"ExecStart={jobsite.path('bin', 'tasks')} foreground" in unit.read_text()


@pytest.mark.parametrize("change, message", [
    ("command = no_such_command", "option command: 'no_such_command' is no management command of the project"),
    ("command =\nscript = no-such-script", "option script: 'no-such-script' is no console script of the eggs"),
])
def test_a_worker_that_is_not_in_the_eggs_is_refused_in_one_line(jobsite, change, message):
    kept = jobsite.path("bin", "tasks").read_text()
    parts = PARTS.replace("command = db_worker --interval 0.2", change)
    jobsite.path("buildout.cfg").write_text(config(parts, jobsite.redis_port))
    try:
        error = one_line_error(jobsite.run(check=False))
        assert error.startswith("Error: djangowsgi part [tasks], ") and message in error, error
        assert jobsite.path("bin", "tasks").read_text() == kept
    finally:
        jobsite.path("buildout.cfg").write_text(config(redis_port=jobsite.redis_port))
        jobsite.run()


def test_a_job_runs_by_hand_and_a_second_run_meanwhile_is_refused_or_waits(jobsite):
    first = subprocess.Popen([str(jobsite.path("bin", "jobs")), "run", "report"], stdout=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: "report started" in done(jobsite))
        refused = jobsite.bin("jobs", "run", "report", check=False)
        assert refused.returncode == 75 and "job report is running already (pid " in refused.stderr, refused
        waited = jobsite.bin("jobs", "run", "report", "--wait")  # runs once the first has ended
        assert "[jobs] job report ended with 0 after " in waited.stdout
    finally:
        assert first.wait(timeout=60) == 0
    assert done(jobsite)[-4:] == ["report started", "report done", "report started", "report done"]
    assert "report written" in jobsite.path("var", "log", "jobs", "report.log").read_text()
    listed = jobsite.bin("jobs", "list").stdout
    assert "report: *-*-* 03:30:00, bin/django report --seconds 3; last run " in listed and "exit status 0" in listed
    assert "clearsessions: daily, bin/django clearsessions; never run" in listed
    assert "ended with 0" in jobsite.bin("jobs", "run", "clearsessions").stdout


def test_a_host_with_its_scheduled_runs_disabled_runs_no_job_from_its_timers(jobsite):
    """What a deploy does on every host but the one with the jobs role."""
    try:
        assert "disabled" in jobsite.bin("jobs", "disable", "the jobs host is web1").stdout
        before = done(jobsite)
        skipped = jobsite.bin("jobs", "run", "report", "--scheduled").stdout
        assert "[jobs] job report not run: scheduled runs are disabled on this host (the jobs host is web1)" in skipped
        assert done(jobsite) == before
        assert "Scheduled runs on this host: disabled (the jobs host is web1)" in jobsite.bin("jobs", "list").stdout
    finally:
        jobsite.bin("jobs", "enable")
    assert "Scheduled runs on this host: enabled" in jobsite.bin("jobs", "list").stdout
    assert "ended with 0" in jobsite.bin("jobs", "run", "clearsessions", "--scheduled").stdout


def test_the_jobs_timers_and_services_are_valid(jobsite):
    units = sorted(jobsite.path("parts", "jobs").glob("*.timer")) + sorted(jobsite.path("parts", "jobs").glob("*.service"))
    assert len(units) == 4
    result = subprocess.run(["systemd-analyze", "verify", *map(str, units)], capture_output=True, text=True)
    problems = [line for line in result.stderr.splitlines() if "/parts/jobs/" in line]
    assert result.returncode == 0 and not problems, result.stderr
    timer = jobsite.path("parts", "jobs", f"djangowsgi-{jobsite.directory.name}-jobs-report.timer").read_text()
    assert "OnCalendar=*-*-* 03:30:00\n" in timer and "Persistent=true\n" in timer


@pytest.mark.parametrize("jobs, message", [
    ("nightly | every night | clearsessions", "option jobs: 'every night' (job nightly) is not a systemd calendar "
                                              "event such as daily, hourly or *-*-* 03:00:00"),
    ("nightly | daily | no_such_command", "option jobs: 'no_such_command' (job nightly) is no management command"),
])
def test_a_bad_job_is_refused_in_one_line_and_the_last_files_stay(jobsite, jobs, message):
    kept = jobsite.path("bin", "jobs").read_text()
    parts = PARTS.replace("    clearsessions | daily | clearsessions\n", f"    {jobs}\n")
    assert parts != PARTS
    jobsite.path("buildout.cfg").write_text(config(parts, jobsite.redis_port))
    try:
        error = one_line_error(jobsite.run(check=False))
        assert error.startswith("Error: djangowsgi part [jobs], ") and message in error, error
        assert jobsite.path("bin", "jobs").read_text() == kept
    finally:
        jobsite.path("buildout.cfg").write_text(config(redis_port=jobsite.redis_port))
        jobsite.run()
