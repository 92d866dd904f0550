"""The complete buildout.cfg of README.rst, built for a project that is not the example."""
import os
import re
import subprocess
import textwrap

import pytest

from conftest import BUILDOUT, REPO, SHARED, call_wsgi, make_account

MYSITE = {
    "setup.py": """
        from setuptools import setup
        setup(name="mysite", version="0.1", packages=["mysite"], install_requires=["Django"])
        """,
    "mysite/__init__.py": "",
    "mysite/settings.py": """
        import os
        SECRET_KEY = "readme-test"
        ALLOWED_HOSTS = ["localhost", "www.mysite.example"]
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


def readme_block(after):
    """The first ini block of README.rst after the words ``after``."""
    readme = (REPO / "README.rst").read_text()
    block = readme.split(after, 1)[1].split(".. code-block:: ini\n", 1)[1]
    lines = re.match(r"\n((?:    .*\n|\n)+)", block).group(1)
    return textwrap.dedent(lines)


def build(project, config, env=None):
    result = subprocess.run([str(BUILDOUT), "-N", "-c", config], cwd=project, capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(new_buildout):
    """The layout the README asks for: the project, and a checkout of djangowsgi beside it."""
    directory = new_buildout("readme")
    project = directory.path("mysite")
    project.mkdir()
    os.symlink(REPO, directory.path("djangowsgi"))
    for name, text in MYSITE.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (project / "buildout.cfg").write_text(readme_block("A complete ``buildout.cfg``"))
    # Only the shared test caches differ from what a user has.
    (project / "local.cfg").write_text(textwrap.dedent(f"""\
        [buildout]
        extends = buildout.cfg
        eggs-directory = {SHARED / 'eggs'}
        download-cache = {SHARED / 'downloads'}
        """))
    build(project, "local.cfg")
    return project


def test_readme_buildout_cfg_builds_and_serves_another_project(project):
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
    assert not any(p.startswith(str(project.parent / "djangowsgi")) for p in path)
    assert path[0] == str(project)
    # The unit that "The self-contained server" links, under the name it gives.
    readme = (REPO / "README.rst").read_text()
    unit = re.search(r"systemctl link \$PWD/(\S+)", readme).group(1)
    assert (project / unit).exists()


def test_readme_system_cfg_serves_the_site_from_the_system_apache(project, system_apache):
    """"Several sites on one Apache", steps 1-5, on a private copy of /etc/apache2."""
    make_account("mysite")
    env = {**os.environ, **system_apache.env}
    try:
        (project / "system.cfg").write_text(readme_block("a ``system.cfg`` beside it"))
        # The caches, and the port of the test's Apache instead of 80.
        (project / "local-system.cfg").write_text(textwrap.dedent(f"""\
            [buildout]
            extends = system.cfg local.cfg

            [apache]
            listen = *:{system_apache.port}
            """))
        build(project, "local-system.cfg", env)
        bin_apache = str(project / "bin" / "apache")
        installed = subprocess.run([bin_apache, "install"], env=env, capture_output=True, text=True)
        assert "Enabled www.mysite.example" in installed.stdout, installed.stdout + installed.stderr
        status, headers, body = system_apache.get("www.mysite.example")
        assert status == 200 and body == "Hello from mysite"
        assert system_apache.get("www.mysite.example", "/static/mysite.css")[0] == 200
        # The daemon's name in ps, as the README gives it.
        names = subprocess.run(["ps", "-o", "args=", "--ppid", str(system_apache.pid)],
                               capture_output=True, text=True).stdout
        assert "(wsgi:www.m~4483)" in names
        reloaded = subprocess.run([bin_apache, "reload"], env=env, capture_output=True, text=True)
        assert "Reloaded" in reloaded.stdout, reloaded.stdout + reloaded.stderr
        removed = subprocess.run([bin_apache, "uninstall"], env=env, capture_output=True, text=True)
        assert "Disabled www.mysite.example" in removed.stdout
        assert "Hello from mysite" not in system_apache.get("www.mysite.example")[2]
        # A deploy's reload, as root, of a site not enabled yet installs it.
        reloaded = subprocess.run([bin_apache, "reload"], env=env, capture_output=True, text=True)
        assert "installing it" in reloaded.stdout and "Enabled www.mysite.example" in reloaded.stdout
        assert system_apache.get("www.mysite.example")[2] == "Hello from mysite"
        subprocess.run([bin_apache, "uninstall"], env=env, check=True, capture_output=True)
    finally:
        subprocess.run(["userdel", "--force", "mysite"], capture_output=True)
