"""Recipe ``djangowsgi:wsgi``: parts/<part>/<part>.wsgi for mod_wsgi."""
import os

from djangowsgi import render
from djangowsgi.files import make_directory, write_if_changed
from djangowsgi.project import ProjectRecipe

DJANGO_APPLICATION = (
    "from django.core.wsgi import get_wsgi_application\n\n"
    "application = get_wsgi_application()\n"
)


class Recipe(ProjectRecipe):
    def __init__(self, buildout, name, options):
        super().__init__(buildout, name, options)
        self.application = self.part.callable_name("application")
        self.directory = os.path.join(buildout["buildout"]["parts-directory"], name)
        self.script = os.path.join(self.directory, name + ".wsgi")
        options["directory"] = self.directory
        self.setup()

    def write(self):
        if self.application:
            application = render.python_import(*self.application, target="application")
        else:
            application = DJANGO_APPLICATION
        content = render.template("wsgi.py.in", application=application, **self.script_values())
        # The directory holds the script alone, so Apache can grant it and nothing else.
        make_directory(self.directory)
        write_if_changed(self.script, content, mode=0o644)
        return [self.directory]
