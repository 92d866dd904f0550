"""Recipe ``djangowsgi:wsgi``: parts/<part>/<part>.wsgi for mod_wsgi."""
import ast
import os

from djangowsgi import lifecycle, render
from djangowsgi.runtime.files import make_directory, write_if_changed
from djangowsgi.project import ProjectRecipe

DJANGO_APPLICATION = (
    "from django.core.wsgi import get_wsgi_application\n\n"
    "application = get_wsgi_application()\n"
)


class Recipe(ProjectRecipe):
    script_description = "the WSGI script"

    def read_options(self):
        self.application = self.part.callable_name("application")
        self.directory = os.path.join(self.buildout["buildout"]["parts-directory"], self.name)
        self.script = os.path.join(self.directory, self.name + ".wsgi")

    def setup(self):
        super().setup()
        self.options["directory"] = self.directory
        lifecycle.claim(self.directory)

    def render(self):
        if self.application:
            application = render.python_import(*self.application, target="application")
        else:
            application = DJANGO_APPLICATION
        return render.template("wsgi.py.in", application=application, **self.script_values())

    def write(self):
        content = self.render()
        # The directory holds the script alone, so Apache can grant it and nothing else.
        make_directory(self.directory)
        write_if_changed(self.script, content, mode=0o644)
        return []  # see lifecycle.py


def uninstall(name, options):
    lifecycle.uninstall(options, options.get("directory"))


def script_python_path(script):
    """The sys.path entries a WSGI script written by this recipe prepends
    (for checks by other recipes); [] for a script written by hand."""
    return script_list(script, "paths")


def script_environment_files(script):
    """The environment files a WSGI script written by this recipe reads."""
    return script_list(script, "environment_files")


def script_list(script, variable):
    """The list of strings assigned to ``variable`` in a generated script."""
    try:
        with open(script, encoding="utf-8") as f:
            tree = ast.parse(f.read())
    except (OSError, SyntaxError):
        return []
    base = os.path.dirname(os.path.realpath(script))
    for node in tree.body:
        if not isinstance(node, ast.Assign) or not isinstance(node.targets[0], ast.Name):
            continue
        if node.targets[0].id == "base" and isinstance(node.value, ast.Call) and node.value.args:
            if isinstance(node.value.args[0], ast.Name):  # base = os.path.dirname(base)
                base = os.path.dirname(base)
        if node.targets[0].id == variable and isinstance(node.value, ast.List):
            paths = []
            for item in node.value.elts:
                if isinstance(item, ast.Constant):
                    paths.append(item.value)
                elif isinstance(item, ast.Call) and isinstance(item.args[-1], ast.Constant):
                    paths.append(os.path.join(base, item.args[-1].value))
            return paths
    return []
