"""Recipe ``djangowsgi:django``: bin/<part>, the project's manage.py."""
import subprocess

from zc.buildout import UserError

from djangowsgi import render
from djangowsgi.files import write_if_changed
from djangowsgi.project import ProjectRecipe, bin_path


class Recipe(ProjectRecipe):
    def __init__(self, buildout, name, options):
        super().__init__(buildout, name, options)
        self.script_name = self.part.script_name("control-script", name)
        self.collectstatic = self.part.boolean("collectstatic", False)
        self.script = bin_path(buildout, self.script_name)
        self.setup()

    def write(self):
        content = render.template("manage.py.in", script_name=self.script_name, **self.script_values())
        write_if_changed(self.script, content, mode=0o755)
        if self.collectstatic:
            self.run_collectstatic()
        return [self.script]

    def run_collectstatic(self):
        result = subprocess.run(
            [self.script, "collectstatic", "--noinput", "--verbosity", "0"],
            capture_output=True, text=True,
        )
        if result.returncode:
            last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["no output"]
            raise UserError(
                f"djangowsgi part [{self.name}], option collectstatic: "
                f"'{self.script_name} collectstatic' failed: {last[0]}"
            )
