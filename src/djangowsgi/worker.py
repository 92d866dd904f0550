"""Recipe ``djangowsgi:worker``: long-running processes of the project (a task
queue's worker), ``processes`` of them under a supervisor: parts/<part>/worker
(one worker, in the project's eggs), bin/<part> (start, stop, restart, status,
logs, foreground; runtime/workerctl.py) and a systemd unit."""
import configparser
import glob
import os
import shlex
import sys

from djangowsgi import lifecycle, render
from djangowsgi.machine import Machine
from djangowsgi.project import ProjectError, ProjectRecipe, bin_path, missing_commands, served_from, site_account
from djangowsgi.runtime.files import make_directory, write_if_changed
from djangowsgi.runtime.worker_config import WorkerConfig

SIGNALS = ("TERM", "INT", "QUIT", "HUP", "USR1", "USR2")


class Recipe(ProjectRecipe):
    script_description = "the worker script in parts/"

    def read_options(self):
        part, buildout = self.part, self.buildout
        command, script = part.get("command"), part.get("script")
        if bool(command) == bool(script):
            raise part.error("command", "give command (a management command and its arguments) or script (a "
                                        "console script of the eggs and its arguments), one of the two")
        self.key = "command" if command else "script"
        try:
            self.arguments = shlex.split(command or script)
        except ValueError as e:
            raise part.error(self.key, f"cannot be split into arguments: {e}") from None
        self.processes = part.integer("processes", 1, 1, 64)
        self.stop_signal = "SIG" + part.choice("stop-signal", "TERM", SIGNALS)
        self.stop_timeout = part.integer("stop-timeout", 30, 1, 3600)
        machine = Machine.probe()
        self.user, self.group = site_account(part, machine)
        self.log_rotation = part.get("log-rotation", "100M")
        if self.log_rotation != "off" and not self.log_rotation[:-1].isdigit() and not self.log_rotation.isdigit():
            raise part.error("log-rotation", f"{self.log_rotation!r} is not a size like 100M, a number of "
                                             f"seconds, or off")
        self.log_keep = part.integer("log-keep", 10, 1, 10000)
        self.rotatelogs = "" if self.log_rotation == "off" else (machine.rotatelogs or "")
        if self.log_rotation != "off" and not self.rotatelogs:
            raise part.error("log-rotation", "no rotatelogs on this machine (Debian: apache2-utils); install "
                                             "it, or set log-rotation = off")
        directory = buildout["buildout"]["directory"]
        self.directory = os.path.join(buildout["buildout"]["parts-directory"], self.name)
        self.worker = os.path.join(self.directory, "worker")
        self.script = bin_path(buildout, part.script_name("control-script", self.name))
        self.run_directory = os.path.join(directory, "var", "run", self.name)
        self.log = os.path.join(directory, "var", "log", self.name, "worker.log")
        self.unit_name = f"djangowsgi-{os.path.basename(directory)}-{self.name}.service"
        self.served = served_from(part, buildout)

    def setup(self):
        super().setup()
        self.options["worker"] = self.worker
        self.options["unit"] = os.path.join(self.directory, self.unit_name)
        lifecycle.claim(self.directory, self.script)
        if self.key == "script":
            self.entry_point = console_script(self.paths, self.arguments[0])
            if not self.entry_point:
                raise self.part.error("script", f"{self.arguments[0]!r} is no console script of the eggs "
                                                f"({', '.join(self.project.eggs)} and what they need)")
        else:
            self.check_command()  # here, before buildout removes anything of the last good run

    def run_code(self):
        """The worker script's main block: the command, in the eggs' Python."""
        arguments = render.python_value(self.arguments[1:] if self.key == "script" else self.arguments)
        if self.key == "command":
            return ("    from django.core.management import execute_from_command_line\n\n"
                    f"    execute_from_command_line([{render.python_string(self.name)}] + {arguments})\n")
        module, attributes = self.entry_point
        return (f"    sys.argv[:] = [{render.python_string(self.arguments[0])}] + {arguments}\n"
                f"    import importlib\n\n    target = importlib.import_module({render.python_string(module)})\n"
                f"    for name in {render.python_value(attributes)}:\n        target = getattr(target, name)\n"
                f"    sys.exit(target())\n")

    def config(self):
        """The contract, its paths as the running supervisor reaches them (served-from)."""
        served = self.served
        return WorkerConfig(
            part=self.name, worker=served(self.worker), python=sys.executable, processes=self.processes,
            stop_signal=self.stop_signal, stop_timeout=self.stop_timeout, user=self.user, group=self.group,
            run_directory=served(self.run_directory), log=served(self.log), rotatelogs=self.rotatelogs,
            log_rotation=self.log_rotation, prune_logs=served(os.path.join(self.directory, "prune-logs")),
            unit=served(os.path.join(self.directory, self.unit_name)), script=served(self.script))

    def render(self):
        """{path: (content, mode)} of the part's files."""
        values = self.script_values()
        what = f"{'bin/django ' if self.key == 'command' else ''}{shlex.join(self.arguments)}"
        worker = render.template("worker.py.in", what=what, processes=self.processes, run=self.run_code(),
                                 **{k: v for k, v in values.items()})
        config = self.config()
        control = render.template("workerctl.in", python=sys.executable, part=self.name,
                                  import_djangowsgi=render.import_djangowsgi(),
                                  config=render.python_value(config.to_script()))
        unit = render.template(
            "worker.service.in", unit_name=self.unit_name, unit_path=config.unit, part=self.name,
            description=f"{self.processes} worker(s) of {what} (djangowsgi part [{self.name}])",
            script=config.script, stop_signal=self.stop_signal, stop_timeout=self.stop_timeout,
            timeout_stop=self.stop_timeout + 15, user_line=systemd_user(self.user, self.group))
        return {self.worker: (worker, 0o755), self.script: (control, 0o755),
                os.path.join(self.directory, self.unit_name): (unit, 0o644),
                os.path.join(self.directory, "prune-logs"): (
                    render.template("prune-logs.in", part=self.name, keep=self.log_keep), 0o755)}

    def write(self):
        make_directory(self.directory)
        for path, (content, mode) in self.render().items():
            write_if_changed(path, content, mode=mode)
        for path in (os.path.dirname(self.log), self.run_directory):
            os.makedirs(path, exist_ok=True)
        return []  # see lifecycle.py

    def check_command(self):
        try:
            missing = missing_commands(self.render()[self.worker][0], [self.arguments[0]])
        except ProjectError as e:
            raise self.part.error("command", f"cannot load the project to check it: {e}") from None
        if missing:
            raise self.part.error("command", f"{self.arguments[0]!r} is no management command of the project "
                                             f"(bin/<django part> help lists them)")


def systemd_user(user, group):
    """The unit's User= line: none as root (the supervisor drops to ``user`` itself), else
    the account that ran buildout, for a unit that systemd would otherwise run as root."""
    return "" if group else f"User={user}\n"


def console_script(paths, name):
    """(module, [attributes]) of the console script ``name`` of the eggs on ``paths``, or None."""
    for path in paths:
        found = glob.glob(os.path.join(path, "EGG-INFO", "entry_points.txt")) + \
            glob.glob(os.path.join(path, "*.egg-info", "entry_points.txt")) + \
            glob.glob(os.path.join(path, "*.dist-info", "entry_points.txt"))
        for entry_points in found:
            parser = configparser.ConfigParser(interpolation=None, delimiters=("=",))
            parser.optionxform = str
            try:
                parser.read(entry_points, encoding="utf-8")
            except configparser.Error:
                continue
            if parser.has_option("console_scripts", name):
                target = parser.get("console_scripts", name).split("[", 1)[0].strip()
                module, _, attributes = target.partition(":")
                return module.strip(), [a for a in attributes.strip().split(".") if a]
    return None


def uninstall(name, options):
    lifecycle.uninstall(options, options.get("worker") and os.path.dirname(options["worker"]), options.get("script"))
