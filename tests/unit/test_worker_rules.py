"""The worker part without a machine: its bad input, one line each, and the
files it renders (the worker script, bin/<part>'s contract, the systemd unit);
the supervisor itself is tests/e2e/test_worker.py's, with a real task queue."""
import pytest

from djangowsgi import worker
from djangowsgi.runtime.worker_config import WorkerConfig
from layout import buildout, machine
from test_options import error_of

WORKER = {"recipe": "djangowsgi:worker", "eggs": "mysite", "settings": "mysite.settings",
          "command": "db_worker --queue-name default", "processes": "2"}


@pytest.fixture(autouse=True)
def debian(monkeypatch):
    monkeypatch.setattr(worker.Machine, "probe", staticmethod(lambda: machine()))


def read(**changes):
    options = {key: value for key, value in {**WORKER, **changes}.items() if value is not None}
    return worker.Recipe.checked(buildout(parts="tasks"), "tasks", options)


@pytest.mark.parametrize("changes, message", [
    ({"command": None}, "option command: give command (a management command and its arguments) or script "
                        "(a console script of the eggs and its arguments), one of the two"),
    ({"script": "celery -A mysite worker"}, "option command: give command"),
    ({"command": "db_worker 'unclosed"}, "option command: cannot be split into arguments: No closing quotation"),
    ({"processes": "0"}, "option processes: 0 is out of range (from 1 to 64)"),
    ({"stop-signal": "KILL"}, "option stop-signal: 'KILL' is not one of TERM, INT, QUIT, HUP, USR1, USR2"),
    ({"stop-timeout": "soon"}, "option stop-timeout: 'soon' is not a whole number"),
    ({"user": "nobody-here"}, "option user: no account 'nobody-here' on this machine"),
    ({"log-rotation": "daily"}, "option log-rotation: 'daily' is not a size like 100M"),
    ({"eggs": None}, "option eggs: is required"),
])
def test_bad_input_is_one_line_naming_the_part_and_the_option(changes, message):
    error = error_of(lambda: read(**changes))
    assert error.startswith("djangowsgi part [tasks], option ") and message in error, error


def test_the_defaults_run_as_the_sites_account_with_a_warm_shutdown():
    recipe = read()
    assert (recipe.processes, recipe.stop_signal, recipe.stop_timeout) == (2, "SIGTERM", 30)
    assert (recipe.user, recipe.group) == ("www-data", "www-data")  # root builds: the apache part's account
    assert recipe.log == "/srv/mysite/var/log/tasks/worker.log"


def test_the_rendered_files_and_the_contract_read_back(tmp_path):
    recipe = read()
    recipe.paths = ["/srv/mysite", "/srv/mysite/eggs/v5/Django-5.2.19-py3.11.egg"]
    files = recipe.render()
    script = files[recipe.worker][0]
    assert "execute_from_command_line(['tasks'] + ['db_worker', '--queue-name', 'default'])" in script
    assert "os.environ['DJANGO_SETTINGS_MODULE'] = 'mysite.settings'" in script
    unit = files["/srv/mysite/parts/tasks/djangowsgi-mysite-tasks.service"][0]
    assert "ExecStart=/srv/mysite/bin/tasks foreground\n" in unit and "KillMode=mixed\n" in unit
    assert "TimeoutStopSec=45\n" in unit and "User=" not in unit  # root: the supervisor drops to www-data
    control = files[recipe.script][0]
    namespace = {}
    exec(control.split("CONFIG = ", 1)[1].split("\n\nif __name__", 1)[0].join(["CONFIG = ", ""]), namespace)
    assert WorkerConfig.from_script(namespace["CONFIG"]) == recipe.config()
    with pytest.raises(ValueError, match="written by a newer djangowsgi"):
        WorkerConfig.from_script({**namespace["CONFIG"], "config_version": 99})


def test_under_served_from_the_supervisor_and_the_timers_reach_the_release_through_it():
    """A deploy sets served-from to <path>/current: the files are written in the release, and
    what runs later (the units, the supervisor's restart, the timers) goes through current."""
    recipe = read(**{"served-from": "/srv/deploy/current"})
    recipe.paths = ["/srv/mysite"]
    files = recipe.render()
    config = recipe.config()
    assert set(files) == {"/srv/mysite/parts/tasks/worker", "/srv/mysite/bin/tasks",
                          "/srv/mysite/parts/tasks/prune-logs",
                          "/srv/mysite/parts/tasks/djangowsgi-mysite-tasks.service"}
    assert (config.script, config.worker) == ("/srv/deploy/current/bin/tasks", "/srv/deploy/current/parts/tasks/worker")
    assert config.run_directory == "/srv/deploy/current/var/run/tasks"
    assert "ExecStart=/srv/deploy/current/bin/tasks foreground\n" in files[recipe.script.replace(
        "bin/tasks", "parts/tasks/djangowsgi-mysite-tasks.service")][0]
    jobs = read_jobs(**{"served-from": "/srv/deploy/current"})
    jobs.paths = ["/srv/mysite"]
    service = jobs.render()["/srv/mysite/parts/jobs/djangowsgi-mysite-jobs-report.service"][0]
    assert "ExecStart=/srv/deploy/current/bin/jobs run report --scheduled\n" in service
    assert jobs.config().job_script == "/srv/deploy/current/parts/jobs/job"
    assert error_of(lambda: read(**{"served-from": "current"})) == (
        "djangowsgi part [tasks], option served-from: 'current' is not an absolute path")


def test_a_console_script_is_found_in_the_eggs_entry_points(tmp_path):
    egg = tmp_path / "celery-5.5.3-py3.11.egg"
    (egg / "EGG-INFO").mkdir(parents=True)
    (egg / "EGG-INFO" / "entry_points.txt").write_text("[console_scripts]\ncelery = celery.__main__:main\n")
    assert worker.console_script([str(tmp_path / "other"), str(egg)], "celery") == ("celery.__main__", ["main"])
    assert worker.console_script([str(egg)], "rqworker") is None


JOBS = {"recipe": "djangowsgi:jobs", "eggs": "mysite", "settings": "mysite.settings",
        "jobs": "clearsessions | daily | clearsessions\nreport | *-*-* 03:30:00 | report --seconds 3"}


def read_jobs(**changes):
    from djangowsgi import jobs
    options = {key: value for key, value in {**JOBS, **changes}.items() if value is not None}
    return jobs.Recipe.checked(buildout(parts="jobs"), "jobs", options)


@pytest.mark.parametrize("changes, message", [
    ({"jobs": None}, "option jobs: is required: NAME | SCHEDULE | COMMAND lines"),
    ({"jobs": "clearsessions daily clearsessions"}, "option jobs: 'clearsessions daily clearsessions' is not "
                                                    "NAME | SCHEDULE | COMMAND"),
    ({"jobs": "clear sessions | daily | clearsessions"}, "option jobs: 'clear sessions' is not a job name"),
    ({"jobs": "a | daily | clearsessions\na | hourly | clearsessions"}, "option jobs: a named twice"),
    ({"jobs": "a | daily; rm -rf / | clearsessions"}, "option jobs: 'daily; rm -rf /' (job a) is not a systemd "
                                                      "calendar event"),
    ({"jobs": "a | daily | report 'unclosed"}, "option jobs: the command of job a cannot be split into arguments"),
    ({"user": "nobody-here"}, "option user: no account 'nobody-here' on this machine"),
])
def test_bad_jobs_are_one_line_naming_the_part_and_the_option(changes, message):
    error = error_of(lambda: read_jobs(**changes))
    assert error.startswith("djangowsgi part [jobs], option ") and message in error, error


def test_each_job_gets_a_timer_and_a_service_running_bin_part_run_name():
    recipe = read_jobs()
    recipe.paths = ["/srv/mysite"]
    files = recipe.render()
    timer = files["/srv/mysite/parts/jobs/djangowsgi-mysite-jobs-report.timer"][0]
    service = files["/srv/mysite/parts/jobs/djangowsgi-mysite-jobs-report.service"][0]
    assert "OnCalendar=*-*-* 03:30:00\n" in timer and "Unit=djangowsgi-mysite-jobs-report.service\n" in timer
    assert "Type=oneshot\n" in service and "\nExecStart=/srv/mysite/bin/jobs run report --scheduled\n" in service
    assert "'report': ['report', '--seconds', '3']" in files[recipe.job_script][0]
    assert recipe.config().user == "www-data"


def test_built_without_root_the_units_run_as_the_builder_and_nothing_is_dropped(monkeypatch):
    monkeypatch.setattr(worker.Machine, "probe", staticmethod(lambda: machine(euid=1001, login="mysite")))
    recipe = read()
    recipe.paths = ["/srv/mysite"]
    assert (recipe.user, recipe.group) == ("mysite", "")
    assert "User=mysite\n" in recipe.render()["/srv/mysite/parts/tasks/djangowsgi-mysite-tasks.service"][0]
    jobs = read_jobs()
    jobs.paths = ["/srv/mysite"]
    assert "User=mysite\n" in jobs.render()["/srv/mysite/parts/jobs/djangowsgi-mysite-jobs-report.service"][0]
