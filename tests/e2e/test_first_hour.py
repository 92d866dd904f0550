"""djangowsgi init on Django projects that are not the example: a fresh
``django-admin startproject`` with one app, served by the README's commands as
written; the same on a server's Apache over HTTPS by docs/tutorial.rst's
commands as written; a project whose settings are a package; and bad input."""
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import BUILDOUT, DJANGO, DJANGOWSGI_VERSION, REPO, TEST_ROOT, SystemApache, call_wsgi, make_account, \
    world_readable_directory
from helpers import doc_block, get, one_line_error
from support.dist import Developer

# Ports 80 and 443, 127.0.0.1:8000 and the account mysite, against the other workers (conftest.py): held
# by the tests that start a server on them, not by those that build or refuse alone.
uses_well_known_ports = pytest.mark.usefixtures("well_known_ports")


@pytest.fixture(scope="module")
def developer():
    root = world_readable_directory(TEST_ROOT, "init-")
    developer = Developer(root, DJANGO, [DJANGOWSGI_VERSION])
    yield developer
    for ctl in root.glob("*/bin/apache"):
        subprocess.run([str(ctl), "stop"], capture_output=True)
    if not os.environ.get("DJANGOWSGI_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


def readme_commands():
    """The console block of README.rst's five-minute path, one command a line."""
    readme = (REPO / "README.rst").read_text()
    block = readme.split("in the project's directory::\n", 1)[1]
    lines = re.match(r"\n((?:    .*\n|\n)+)", block).group(1)
    return [line.strip() for line in lines.splitlines() if line.strip()]


@uses_well_known_ports
def test_readme_five_minutes_serve_a_new_startproject(developer):
    """startproject with one app, then the README's commands as written (the
    packages of its first line are this machine's prerequisites): the admin's
    login page and its CSS are served by Apache + mod_wsgi."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 8000)) != 0, "something already listens on 127.0.0.1:8000"
    project = developer.startproject("blog", app="posts")
    commands = readme_commands()
    assert commands[0].startswith("sudo apt-get install ")
    started = time.monotonic()
    for command in commands[1:]:
        developer.shell(command, project)
    took = time.monotonic() - started
    try:
        assert get("http://127.0.0.1:8000/admin/login/")[0] == 200
        status, css = get("http://127.0.0.1:8000/static/admin/css/base.css")
        assert status == 200 and "body" in css
        # The site runs from the buildout's eggs, not from the developer's virtualenv.
        wsgi = (project / "parts" / "wsgi" / "wsgi.wsgi").read_text()
        assert str(developer.venv) not in wsgi and f"/Django-{DJANGO}-" in wsgi
        assert (project / "var" / "db" / "db.sqlite3").exists()
        assert oct((project / "secrets.env").stat().st_mode & 0o777) in ("0o600", "0o640")
        assert "/secrets.env" in (project / ".gitignore").read_text()
        # init once more: nothing is overwritten without --force.
        before = {p: p.read_text() for p in (project / "buildout.cfg", project / "secrets.env")}
        again = developer.shell("djangowsgi init", project, check=False)
        assert again.returncode == 1 and "--force overwrites them" in again.stderr, again.stderr
        assert {p: p.read_text() for p in before} == before
        # The front.cfg init wrote, as its first lines say (the account made, as root): HAProxy on port 80.
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", 80)) != 0, "something already listens on port 80"
        make_account("blog")
        developer.shell("chown root:blog secrets.env && chmod 0640 secrets.env", project)
        developer.shell("bin/buildout -N -c front.cfg", project)
        developer.shell("bin/apache reload", project)
        developer.shell("bin/balancer start", project)
        assert get("http://127.0.0.1:80/admin/login/")[0] == 200
        assert "127.0.0.1:8001 standby" in (project / ".installed.cfg").read_text()
    finally:
        subprocess.run([str(project / "bin" / "apache"), "stop"], capture_output=True)
        if (project / "bin" / "balancer").exists():
            subprocess.run([str(project / "bin" / "balancer"), "stop"], capture_output=True)
        subprocess.run(["userdel", "--force", "blog"], capture_output=True)
    print(f"README's commands after startproject: {len(commands) - 2}, {took:.0f} s")


def test_settings_package_of_base_dev_and_production_modules(developer):
    """The layout of popular project templates: settings/base.py, dev.py (which
    manage.py names, DEBUG on) and production.py, which reads an environment
    variable at import time and has a STATIC_ROOT and a MEDIA_ROOT of its own, not
    made yet; pins from a requirements file. init serves production, says so, and
    names the variable; the first build builds."""
    project = developer.startproject("shop")
    package = project / "shop" / "settings"
    package.mkdir()
    (project / "shop" / "settings.py").rename(package / "base.py")
    (package / "__init__.py").write_text("")
    (package / "dev.py").write_text("from .base import *  # noqa\nDEBUG = True\n")
    (package / "production.py").write_text(
        "import os\nfrom .base import *  # noqa\n"
        "SECRET_KEY = os.environ['SHOP_SECRET_KEY']\n"
        "DEBUG = False\nALLOWED_HOSTS = ['localhost']\n"
        "STATIC_ROOT = BASE_DIR.parent / 'collected'\n"  # BASE_DIR is shop/ now
        "MEDIA_URL = '/media/'\nMEDIA_ROOT = BASE_DIR.parent / 'media'\n")
    manage = project / "manage.py"
    manage.write_text(manage.read_text().replace("'shop.settings'", "'shop.settings.dev'"))
    developer.shell("pip freeze --exclude djangowsgi > requirements.txt", project)
    refused = developer.shell("djangowsgi init --requirements requirements.txt --no-bootstrap", project, check=False)
    assert refused.returncode == 1 and "KeyError: 'SHOP_SECRET_KEY' (the settings need the environment variable " \
        "SHOP_SECRET_KEY: run init with it set, SHOP_SECRET_KEY=... djangowsgi init, then put the line " \
        "SHOP_SECRET_KEY=... in secrets.env" in refused.stderr, refused.stderr
    said = developer.shell("SHOP_SECRET_KEY=for-init djangowsgi init --requirements requirements.txt --no-bootstrap",
                           project).stdout
    assert "Settings: shop.settings.production, the production module beside shop.settings.dev, which manage.py " \
        "names; --settings chooses another." in said, said
    assert f"Made {project}/media (MEDIA_ROOT, which did not exist yet)" in said, said
    with open(project / "secrets.env", "a") as secrets:
        secrets.write("SHOP_SECRET_KEY=the-sites-own\n")
    config = (project / "buildout.cfg").read_text()
    assert "settings = shop.settings.djangowsgi_settings" in config
    assert f"/static/ {project}/collected/" in config and f"/media/ {project}/media/" in config
    assert f"Django = {DJANGO}" in config and "install_requires=['asgiref', 'Django', 'sqlparse']" in \
        (project / "setup.py").read_text()
    # The test suite's bin/buildout (the same pins as bootstrap's, tests/unit/test_init.py), on the index.
    built = subprocess.run([str(BUILDOUT), "-N"], cwd=project, capture_output=True, text=True,
                           env=dict(os.environ, HOME=str(developer.home)))
    assert built.returncode == 0, built.stdout + built.stderr
    assert (project / "collected" / "admin" / "css" / "base.css").exists()  # collectstatic ran
    status, body, path = call_wsgi(project / "parts" / "wsgi" / "wsgi.wsgi", "/admin/login/")
    assert status.startswith("200"), body[:2000]
    status, body, path = call_wsgi(project / "parts" / "wsgi" / "wsgi.wsgi", "/no-such-page/")
    assert status.startswith("404") and "DEBUG = True" not in body  # production's DEBUG: off


BAD_PROJECTS = [
    ("no manage.py", "no manage.py in"),
    ("settings that fail", "cannot import the settings module broken.settings with"),
    ("pins not pinned", "requirements.txt, line 1: 'Django>=5' is not name==version"),
]


@pytest.mark.parametrize("case, message", BAD_PROJECTS, ids=[c for c, _ in BAD_PROJECTS])
def test_bad_project_is_refused_and_nothing_written(developer, case, message):
    if case == "no manage.py":
        project = developer.root / "empty"
        project.mkdir(exist_ok=True)
        arguments = ""
    else:
        project = developer.startproject("broken" if case == "settings that fail" else "unpinned")
        arguments = ""
        if case == "settings that fail":
            settings = project / "broken" / "settings.py"
            settings.write_text(settings.read_text() + "\nraise RuntimeError('no database password')\n")
        else:
            (project / "requirements.txt").write_text("Django>=5\n")
            arguments = " --requirements requirements.txt"
    before = sorted(p.name for p in project.iterdir())
    result = developer.shell("djangowsgi init" + arguments, project, check=False)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("djangowsgi init: ") and message in line, line
    assert sorted(p.name for p in project.iterdir()) == before


def test_a_python_mod_wsgi_does_not_embed_is_refused(developer, tmp_path):
    """A Python installation of the same version elsewhere (as this machine's
    default python3 is): init refuses it and names the one to use."""
    version = "%d.%d" % sys.version_info[:2]
    other = tmp_path / "python"
    (other / "bin").mkdir(parents=True)
    (other / "lib").mkdir()
    shutil.copy(f"/usr/bin/python{version}", other / "bin" / f"python{version}")
    os.symlink(f"/usr/lib/python{version}", other / "lib" / f"python{version}")
    project = developer.startproject("elsewhere")
    result = subprocess.run([str(other / "bin" / f"python{version}"), "-m", "djangowsgi", "init"], cwd=project,
                            capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"this is Python {version} from {other}, but /usr/lib/apache2/modules/mod_wsgi.so embeds " \
           f"/usr/bin/python{version}: make the project's virtualenv with /usr/bin/python{version} -m venv" \
        in result.stderr, result.stderr


TUTORIAL = REPO / "docs" / "tutorial.rst"
CLONES = ("/srv/mysite",)


@uses_well_known_ports
def test_tutorial_serves_a_new_project_over_https_from_the_system_apache(developer):
    """docs/tutorial.rst, every block as written (the repositories' URLs aside),
    for a fresh startproject with init's files committed: on a private copy of
    /etc/apache2 listening on 127.0.0.1:80 and :443, with a certificate the test
    makes where the tutorial says. Then a new version, by its last block."""
    for address in (80, 443):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", address)) != 0, f"something already listens on port {address}"
    for path in CLONES + ("/etc/ssl/mysite",):
        assert not os.path.exists(path), f"{path} exists: the tutorial's test would overwrite it"
    subprocess.run(["userdel", "--force", "mysite"], capture_output=True)
    # The developer's side: init, the tutorial's system.cfg, a commit, a repository to clone.
    project = developer.startproject("mysite", app="polls")
    developer.shell("djangowsgi init --no-bootstrap", project)
    (project / "system.cfg").write_text(doc_block(TUTORIAL, "HTTPS with your certificate"))
    for command in ("git init -q", "git add -A", "git -c user.name=t -c user.email=t@example.com commit -q -m init"):
        developer.shell(command, project)
    assert "secrets.env" not in developer.shell("git ls-files", project).stdout
    bare = developer.root / "mysite.git"
    developer.shell(f"git clone -q --bare {project} {bare}", developer.root)
    # The certificate from "your certificate authority".
    os.makedirs("/etc/ssl/mysite")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=www.mysite.example", "-addext", "subjectAltName=DNS:www.mysite.example",
                    "-keyout", "/etc/ssl/mysite/privkey.pem", "-out", "/etc/ssl/mysite/fullchain.pem"],
                   check=True, capture_output=True)
    server = SystemApache(world_readable_directory(TEST_ROOT, "tutorial-apache-"))
    (server.confdir / "ports.conf").write_text("Listen 127.0.0.1:80\nListen 127.0.0.1:443\n")
    server.ctl("start")
    env = dict(server.env, HOME=str(developer.home))  # its default.cfg: the index that stands for PyPI
    env.pop("PIP_NO_BUILD_ISOLATION", None)

    def run_block(after, cwd="/"):
        script = doc_block(TUTORIAL, after, "::\n")
        script = script.replace("https://git.example.com/mysite.git", str(bare))
        result = subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, f"{script}\n{result.stdout}\n{result.stderr}"
        return result

    def curl(url, *options):
        result = subprocess.run(["curl", "-sk", "--resolve", "www.mysite.example:443:127.0.0.1", "--resolve",
                                 "www.mysite.example:80:127.0.0.1", "-o", "/dev/null", "-D", "-", *options, url],
                                capture_output=True, text=True, timeout=30)
        return result.stdout

    try:
        run_block("checkout in ``/srv``, which")  # apt-get (nothing to do here), useradd, the clone
        run_block("which the site's account may read and no other")
        run_block("and the site enabled")
        headers = curl("https://www.mysite.example/admin/login/")
        assert headers.startswith("HTTP/2 200") or headers.startswith("HTTP/1.1 200"), headers
        assert "strict-transport-security: max-age=31536000" in headers.lower()
        assert " 200" in curl("https://www.mysite.example/static/admin/css/base.css").splitlines()[0]
        redirect = curl("http://www.mysite.example/admin/login/")
        assert redirect.split()[1] in ("301", "308") and "location: https://www.mysite.example/admin/login/" \
            in redirect.lower(), redirect
        # The database belongs to the site's account, which made it.
        assert pwd.getpwuid(os.stat("/srv/mysite/var/db/db.sqlite3").st_uid).pw_name == "mysite"
        # A new version: the heading of a template of the project's, pushed and deployed by step 5.
        templates = project / "polls" / "templates" / "polls"
        templates.mkdir(parents=True)
        (templates / "version.html").write_text("version two\n")
        for command in ("git add -A", "git -c user.name=t -c user.email=t@example.com commit -q -m two",
                        f"git push -q {bare} HEAD"):
            developer.shell(command, project)
        reloaded = run_block("As root, in ``/srv/mysite``", cwd="/srv/mysite")
        assert "Reloaded" in reloaded.stdout, reloaded.stdout
        assert os.path.exists("/srv/mysite/polls/templates/polls/version.html")
        assert " 200" in curl("https://www.mysite.example/admin/login/").splitlines()[0]
    finally:
        if os.path.exists("/srv/mysite/bin/apache"):
            subprocess.run(["/srv/mysite/bin/apache", "uninstall"], env=env, capture_output=True)
        server.stop_and_remove()
        for path in CLONES + ("/etc/ssl/mysite",):
            shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["userdel", "--force", "mysite"], capture_output=True)


@uses_well_known_ports
def test_readme_development_make_run_serves_the_example():
    """The README's ``make run``, in a fresh clone of this repository: bin/buildout
    by djangowsgi bootstrap, the example built and served on 127.0.0.1:8000."""
    commands = doc_block(REPO / "README.rst", "In a checkout of this repository", "::\n").splitlines()
    assert commands[0].startswith("make run ")
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 8000)) != 0, "something already listens on 127.0.0.1:8000"
    clone = world_readable_directory(TEST_ROOT, "make-run-") / "djangowsgi"
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    env = dict(os.environ)
    env.pop("PIP_NO_BUILD_ISOLATION", None)
    try:
        result = subprocess.run(["make", "run"], cwd=clone, env=env, capture_output=True, text=True, timeout=900)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert (clone / ".buildout-venv").is_dir() and (clone / "bin" / "buildout").exists()
        status, body = get("http://127.0.0.1:8000/")
        assert status == 200 and "Welcome to Coleman" in body
        assert get("http://127.0.0.1:8000/static/coleman/style.css")[0] == 200
    finally:
        subprocess.run([str(clone / "bin" / "apache"), "stop"], capture_output=True)
        if not os.environ.get("DJANGOWSGI_KEEP"):
            shutil.rmtree(clone.parent, ignore_errors=True)


def test_buildout_run_from_the_projects_own_virtualenv_is_refused(developer):
    """The trap bootstrap exists for: buildout run from the virtualenv Django is
    installed in takes Django from there. One line on the part's eggs, nothing built."""
    project = developer.startproject("trap")
    developer.shell("djangowsgi init --no-bootstrap", project)
    result = developer.shell("buildout -N", project, check=False)  # the virtualenv's own buildout
    error = one_line_error(result)
    assert error.startswith("Error: djangowsgi part [django], option eggs: ") or \
        error.startswith("Error: djangowsgi part [wsgi], option eggs: "), error
    assert f"asgiref, Django, sqlparse taken from {developer.venv}/lib/" in error, error
    assert "djangowsgi bootstrap makes one" in error
    assert not (project / "bin" / "django").exists() and not (project / "parts" / "wsgi").exists()
