"""What the manage and WSGI recipes share: the project's options and its sys.path."""
import logging
import os
import subprocess
import sys
import tempfile

from djangowsgi import eggs, render
from djangowsgi.options import PartOptions, ReadFirst, read_project


class ProjectRecipe(ReadFirst):
    """Base of the recipes that write a script running the Django project.

    Subclasses read their own options and set ``self.script`` in
    ``read_options()``, and implement ``write()``.
    """

    script_description = "the generated script"

    def _read(self, buildout, name, options):
        self.buildout, self.name, self.options = buildout, name, options
        self.log = logging.getLogger(name)
        self.part = PartOptions(buildout, name, options)
        self.project = read_project(self.part, self.script_description)
        self.read_options()
        relative = buildout["buildout"].get("relative-paths", "false") == "true"
        self.relative_to = buildout["buildout"]["directory"] if relative else None
        self.paths = []

    def read_options(self):
        raise NotImplementedError

    def setup(self):
        """The sys.path of the part's eggs (zc.recipe.egg), and the exported options."""
        try:
            self.paths = eggs.python_path(
                self.buildout, self.name, self.options, self.project.eggs, self.project.extra_paths
            )
        except eggs.FromSitePackages as error:
            raise self.part.error("eggs", str(error)) from None
        self.options["script"] = self.script
        self.options["python-path"] = "\n".join(self.paths)

    def script_values(self):
        """Placeholders every script template shares."""
        environment = [("DJANGO_SETTINGS_MODULE", self.project.settings)] + self.project.environment
        return dict(
            part=self.name,
            python=sys.executable,
            python_version="%d.%d" % sys.version_info[:2],
            python_path=render.python_path(self.paths, self.script, self.relative_to),
            environment=render.python_environment(environment) + self.environment_file_code(),
            initialization=self.project.initialization,
        )

    def environment_file_code(self):
        if not self.project.environment_files:
            return ""
        return render.template("environment_file.py.in",
                               environment_files=render.python_value(self.project.environment_files))

    def install(self):
        return self.write()

    def update(self):
        self.write()


def served_from(part, buildout):
    """A function giving a path inside the buildout as the site's processes reach it:
    through ``served-from`` (a deploy sets it to <path>/current, so that a restart
    after a switch takes the new release), the buildout's own path by default."""
    directory = buildout["buildout"]["directory"].rstrip("/")
    served = part.absolute_path("served-from", directory)

    def reach(path):
        return served + path[len(directory):] if path == directory or path.startswith(directory + "/") else path
    return reach


def bin_path(buildout, script_name):
    return os.path.join(buildout["buildout"]["bin-directory"], script_name)


# Runs a generated script's set-up (sys.path, environment), not its main block,
# then prints which of the commands named Django does not know.
MISSING_COMMANDS = """\
import runpy, sys
runpy.run_path(sys.argv[1], run_name="djangowsgi")
import django
django.setup()
from django.core.management import get_commands
print("missing:", *[name for name in sys.argv[2:] if name not in get_commands()])
"""


def missing_commands(script, names):
    """Which of ``names`` are no management commands of the project that ``script``
    (a generated script's text) sets up, in one load of it; ProjectError with what
    loading the project said when it fails."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "script")
        with open(path, "w") as f:
            f.write(script)
        result = subprocess.run([sys.executable, "-c", MISSING_COMMANDS, path, *names], capture_output=True,
                                text=True)
    said = result.stdout.strip().splitlines()
    if result.returncode or not said or not said[-1].startswith("missing:"):
        raise ProjectError(((result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"])[0])
    return said[-1].split()[1:]


class ProjectError(Exception):
    """The project could not be loaded (its settings, its eggs)."""


def site_account(part, machine):
    """(user, group) a part's processes run as. As root, ``user`` (by default the
    account Apache's daemons get, www-data) and its group, which they drop to;
    else the account running buildout, and no group: nothing to drop."""
    if machine.euid != 0:
        return machine.default_user(), ""
    user = part.get("user", machine.default_user())
    if not machine.accounts.user(user):
        raise part.error("user", f"no account {user!r} on this machine")
    return user, machine.primary_group(user)
