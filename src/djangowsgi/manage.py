"""Recipe ``djangowsgi:django``: bin/<part>, the project's manage.py."""
import subprocess
import sys

from zc.buildout import UserError

from djangowsgi import lifecycle, render
from djangowsgi.runtime.files import write_if_changed
from djangowsgi.project import ProjectRecipe, bin_path

# Runs the manage script's set-up (sys.path, environment), not its main block,
# then the package's collectstatic (runtime/collectstatic.py).
COLLECTSTATIC = """\
import runpy, sys
runpy.run_path(sys.argv[1], run_name="djangowsgi")
%s
from djangowsgi.runtime import collectstatic
sys.exit(collectstatic.main(sys.argv[2:]))
"""


class Recipe(ProjectRecipe):
    script_description = "the manage script in bin/"

    def read_options(self):
        self.script_name = self.part.script_name("control-script", self.name)
        self.collectstatic = self.part.boolean("collectstatic", False)
        self.script = bin_path(self.buildout, self.script_name)

    def setup(self):
        super().setup()
        lifecycle.claim(self.script)

    def render(self):
        return render.template("manage.py.in", script_name=self.script_name, **self.script_values())

    def write(self):
        write_if_changed(self.script, self.render(), mode=0o755)
        if self.collectstatic:
            self.run_collectstatic()
        return []  # see lifecycle.py

    def run_collectstatic(self):
        result = subprocess.run([sys.executable, "-c", COLLECTSTATIC % render.import_djangowsgi(), self.script],
                                capture_output=True, text=True)
        if result.returncode:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(f"djangowsgi part [{self.name}], option collectstatic: {last[0]}")
        for line in result.stdout.splitlines():
            self.log.info(line)


def uninstall(name, options):
    lifecycle.uninstall(options, options.get("script"))
