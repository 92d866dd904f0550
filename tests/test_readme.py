"""The complete buildout.cfg of README.rst, built for a project that is not the example."""
import os
import re
import subprocess
import textwrap

from conftest import BUILDOUT, REPO, SHARED, call_wsgi

MYSITE = {
    "setup.py": """
        from setuptools import setup
        setup(name="mysite", version="0.1", packages=["mysite"], install_requires=["Django"])
        """,
    "mysite/__init__.py": "",
    "mysite/settings.py": """
        import os
        SECRET_KEY = "readme-test"
        ALLOWED_HOSTS = ["localhost"]
        ROOT_URLCONF = "mysite.urls"
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.staticfiles", "mysite"]
        STATIC_URL = "/static/"
        STATIC_ROOT = os.path.join(os.environ["MYSITE_VAR_DIR"], "static")
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                                 "NAME": os.path.join(os.environ["MYSITE_VAR_DIR"], "db", "db.sqlite3")}}
        """,
    "mysite/static/mysite.css": "body { color: teal; }\n",
    "mysite/urls.py": """
        from django.http import HttpResponse
        from django.urls import path
        urlpatterns = [path("", lambda request: HttpResponse("Hello from mysite"))]
        """,
}


def readme_buildout_cfg():
    readme = (REPO / "README.rst").read_text()
    block = readme.split("A complete ``buildout.cfg``", 1)[1].split(".. code-block:: ini\n", 1)[1]
    lines = re.match(r"\n((?:    .*\n|\n)+)", block).group(1)
    return textwrap.dedent(lines)


def test_readme_buildout_cfg_builds_and_serves_another_project(buildout):
    # The layout the README asks for: the project, and a checkout of djangowsgi beside it.
    project = buildout.path("mysite")
    project.mkdir()
    os.symlink(REPO, buildout.path("djangowsgi"))
    for name, text in MYSITE.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (project / "buildout.cfg").write_text(readme_buildout_cfg())
    # Only the shared test caches differ from what a user has.
    (project / "local.cfg").write_text(textwrap.dedent(f"""\
        [buildout]
        extends = buildout.cfg
        eggs-directory = {SHARED / 'eggs'}
        download-cache = {SHARED / 'downloads'}
        """))
    result = subprocess.run([str(BUILDOUT), "-N", "-c", "local.cfg"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    django = project / "bin" / "django"
    check = subprocess.run([str(django), "check"], cwd=project, capture_output=True, text=True)
    assert "System check identified no issues" in check.stdout
    assert (project / "var" / "static" / "mysite.css").exists()  # collectstatic = true ran
    assert subprocess.run([str(django), "migrate", "--noinput"], cwd=project).returncode == 0
    assert (project / "var" / "db" / "db.sqlite3").exists()  # in a writable directory
    status, body, path = call_wsgi(project / "parts" / "wsgi" / "wsgi.wsgi")
    assert status == "200 OK" and body.strip() == "Hello from mysite"
    # mysite is a develop egg beside this recipe's: the recipe must not come along.
    assert str(REPO / "src") not in path and str(project / "develop-eggs") not in path
    assert not any(p.startswith(str(buildout.path("djangowsgi"))) for p in path)
    assert path[0] == str(project)
