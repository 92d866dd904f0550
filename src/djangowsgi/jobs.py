"""Recipe ``djangowsgi:jobs``: scheduled management commands of the project
(``clearsessions`` daily, the site's own), each a systemd timer and service
that run ``bin/<part> run NAME`` (runtime/jobsctl.py), which runs it once in the
project's eggs (parts/<part>/job)."""
import os
import re
import shlex
import shutil
import subprocess
import sys

from djangowsgi import lifecycle, render
from djangowsgi.machine import Machine
from djangowsgi.project import ProjectError, ProjectRecipe, bin_path, missing_commands, served_from, site_account
from djangowsgi.runtime.files import make_directory, write_if_changed
from djangowsgi.runtime.jobs_config import JobsConfig
from djangowsgi.worker import systemd_user

JOB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*\Z")
# What a systemd calendar event may hold (systemd.time(7)); systemd-analyze calendar says the rest.
SCHEDULE = re.compile(r"[A-Za-z0-9 ,:*./~-]+\Z")


class Recipe(ProjectRecipe):
    script_description = "the job script in parts/"

    def read_options(self):
        part, buildout = self.part, self.buildout
        self.jobs = [self._job(line) for line in part.lines("jobs")]
        if not self.jobs:
            raise part.error("jobs", "is required: NAME | SCHEDULE | COMMAND lines, e.g. "
                                     "clearsessions | daily | clearsessions")
        names = [job["name"] for job in self.jobs]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise part.error("jobs", f"{', '.join(twice)} named twice")
        machine = Machine.probe()
        self.user, self.group = site_account(part, machine)
        directory = buildout["buildout"]["directory"]
        self.directory = os.path.join(buildout["buildout"]["parts-directory"], self.name)
        self.job_script = os.path.join(self.directory, "job")
        self.script = bin_path(buildout, part.script_name("control-script", self.name))
        self.run_directory = os.path.join(directory, "var", "run", self.name)
        self.log_directory = os.path.join(directory, "var", "log", self.name)
        self.unit_prefix = f"djangowsgi-{os.path.basename(directory)}-{self.name}"
        self.served = served_from(part, buildout)

    def _job(self, line):
        fields = [field.strip() for field in line.split("|")]
        if len(fields) != 3 or not all(fields):
            raise self.part.error("jobs", f"{line!r} is not NAME | SCHEDULE | COMMAND")
        name, schedule, command = fields
        if not JOB_NAME.match(name):
            raise self.part.error("jobs", f"{name!r} is not a job name (letters, digits, - and _)")
        if not SCHEDULE.match(schedule) or not valid_schedule(schedule):
            raise self.part.error("jobs", f"{schedule!r} (job {name}) is not a systemd calendar event such as "
                                          f"daily, hourly or *-*-* 03:00:00 (systemd-analyze calendar checks one)")
        try:
            arguments = shlex.split(command)
        except ValueError as e:
            raise self.part.error("jobs", f"the command of job {name} cannot be split into arguments: {e}") from None
        return {"name": name, "schedule": schedule, "command": arguments}

    def setup(self):
        super().setup()
        self.options["job-script"] = self.job_script
        lifecycle.claim(self.directory, self.script)
        self.check_commands()  # here, before buildout removes anything of the last good run

    def config(self):
        """The contract, its paths as the timers reach them (served-from)."""
        served = self.served
        return JobsConfig(part=self.name, job_script=served(self.job_script), python=sys.executable,
                          jobs=self.jobs, user=self.user, group=self.group,
                          run_directory=served(self.run_directory), log_directory=served(self.log_directory))

    def render(self):
        """{path: (content, mode)} of the part's files."""
        values = self.script_values()
        files = {
            self.job_script: (render.template(
                "job.py.in", part_string=render.python_string(self.name),
                jobs=render.python_value({job["name"]: job["command"] for job in self.jobs}), **values), 0o755),
            self.script: (render.template(
                "jobsctl.in", python=sys.executable, part=self.name, import_djangowsgi=render.import_djangowsgi(),
                config=render.python_value(self.config().to_script())), 0o755),
        }
        for job in self.jobs:
            service, timer = f"{self.unit_prefix}-{job['name']}.service", f"{self.unit_prefix}-{job['name']}.timer"
            names = dict(unit_name=service, timer_name=timer, job=job["name"], part=self.name,
                         user_line=systemd_user(self.user, self.group),
                         schedule=job["schedule"], script=self.served(self.script),
                         service_path=self.served(os.path.join(self.directory, service)),
                         timer_path=self.served(os.path.join(self.directory, timer)),
                         description=f"job {job['name']} of djangowsgi part [{self.name}]: bin/django "
                                     f"{shlex.join(job['command'])}")
            files[os.path.join(self.directory, service)] = (render.template("job.service.in", **names), 0o644)
            files[os.path.join(self.directory, timer)] = (render.template("job.timer.in", **names), 0o644)
        return files

    def write(self):
        make_directory(self.directory)
        for path, (content, mode) in self.render().items():
            write_if_changed(path, content, mode=mode)
        for path in (self.run_directory, self.log_directory):
            os.makedirs(path, exist_ok=True)
        return []  # see lifecycle.py

    def check_commands(self):
        try:
            missing = missing_commands(self.render()[self.job_script][0], [job["command"][0] for job in self.jobs])
        except ProjectError as e:
            raise self.part.error("jobs", f"cannot load the project to check the jobs' commands: {e}") from None
        for job in self.jobs:
            if job["command"][0] in missing:
                raise self.part.error("jobs", f"{job['command'][0]!r} (job {job['name']}) is no management "
                                              f"command of the project (bin/<django part> help lists them)")


def valid_schedule(schedule):
    """systemd's own check, where the machine has systemd-analyze."""
    analyze = shutil.which("systemd-analyze")
    if not analyze:
        return True
    return subprocess.run([analyze, "calendar", schedule], capture_output=True).returncode == 0


def uninstall(name, options):
    lifecycle.uninstall(options, options.get("job-script") and os.path.dirname(options["job-script"]),
                        options.get("script"))
