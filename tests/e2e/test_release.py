"""djangowsgi as its users get it: released. Two releases built from the working
tree (tools/support/dist.py: a wheel and an sdist each) in a find-links directory
that stands for the package index, and no checkout of djangowsgi on any path. A
``django-admin startproject`` made into a buildout by the released ``djangowsgi
init`` (djangowsgi pinned, fetched into eggs/); the scripts' sys.path whichever
way djangowsgi is installed; the project deployed to sshd hosts with no index,
then moved to the next release under load."""
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from conftest import DJANGO, DJANGOWSGI_VERSION, REPO, TEST_ROOT, LoadLoop, free_port, world_readable_directory
from djangowsgi import wsgi
from helpers import doc_block, get
from support.dist import Developer
from support.pins import versions
from support.postgres import PostgresServer
from support.sshd import ADDRESSES, started_hosts

RELEASE = re.match(r"\d+(?:\.\d+)*", DJANGOWSGI_VERSION).group(0)
FIRST, NEXT = f"{RELEASE}.post1", f"{RELEASE}.post2"  # built for these tests, never published
FABRIC = ("fabric", "invoke", "paramiko", "bcrypt", "cffi", "cryptography", "decorator", "Deprecated", "pycparser",
          "PyNaCl", "wrapt")
HOSTS = ADDRESSES[:2]


@pytest.fixture(scope="module")
def user():
    root = world_readable_directory(TEST_ROOT, "release-")
    user = Developer(root, DJANGO, [FIRST, NEXT])
    yield user
    for ctl in root.glob("**/bin/apache"):
        subprocess.run([str(ctl), "stop"], capture_output=True)
    if not os.environ.get("DJANGOWSGI_KEEP"):
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def project(user):
    """startproject, then init and its commands, the site on a port of its own."""
    directory = user.startproject("shopfront")
    said = user.shell("djangowsgi init", directory).stdout
    assert f"djangowsgi {FIRST}: pinned in [versions]" in said, said
    config = directory / "buildout.cfg"
    text = config.read_text()
    assert "\ndevelop = .\n" in text and f"\ndjangowsgi = {FIRST}\n" in text, text
    port = free_port()
    config.write_text(text.replace("listen = 127.0.0.1:8000", f"listen = 127.0.0.1:{port}"))
    for command in ("bin/buildout -N", "bin/django migrate --noinput", "bin/apache start"):
        user.shell(command, directory)
    user.port = port
    yield directory
    subprocess.run([str(directory / "bin" / "apache"), "stop"], capture_output=True)


def loaded_from(script):
    """The djangowsgi package directory a control script imports (render.import_djangowsgi)."""
    return re.search(r"submodule_search_locations=\['([^']+)'\]", script.read_text()).group(1)


def assert_paths_are_the_eggs(project):
    paths = wsgi.script_python_path(str(project / "parts" / "wsgi" / "wsgi.wsgi"))
    outside = [p for p in paths if not (p == str(project) or p.startswith(str(project / "eggs") + "/"))]
    assert paths and outside == [], outside


def test_a_released_djangowsgi_is_fetched_pinned_and_serves_a_startproject(user, project):
    eggs = sorted((project / "eggs").glob("*/djangowsgi-*"))  # eggs/v5/ in zc.buildout 6
    assert len(eggs) == 1 and eggs[0].name.startswith(f"djangowsgi-{FIRST}-"), eggs
    for script in ("bin/apache", "bin/django", "parts/wsgi/wsgi.wsgi"):
        assert str(REPO) not in (project / script).read_text(), script
    assert loaded_from(project / "bin" / "apache") == str(eggs[0] / "djangowsgi")
    assert_paths_are_the_eggs(project)
    assert get(f"http://127.0.0.1:{user.port}/admin/login/")[0] == 200
    status, css = get(f"http://127.0.0.1:{user.port}/static/admin/css/base.css")
    assert status == 200 and "body" in css


def test_djangowsgi_in_the_buildout_virtualenv_adds_nothing_to_the_scripts_paths(user, project):
    """djangowsgi's wheel installed where bin/buildout runs (zc.buildout 6 then takes
    it from there): its site-packages is on no script's sys.path."""
    pip = project / ".buildout-venv" / "bin" / "pip"
    user.shell(f"{pip} install -q djangowsgi=={FIRST}", project)
    try:
        user.shell("bin/buildout -N", project)
        site_packages = loaded_from(project / "bin" / "apache").rsplit("/", 1)[0]
        assert site_packages.startswith(str(project / ".buildout-venv")), site_packages
        assert site_packages not in (project / "bin" / "apache").read_text().replace(
            f"'{site_packages}/djangowsgi", "")  # named in the loader alone, never on sys.path
        assert_paths_are_the_eggs(project)
        user.shell("bin/apache reload", project)
        assert get(f"http://127.0.0.1:{user.port}/admin/login/")[0] == 200
    finally:
        user.shell(f"{pip} uninstall -q -y djangowsgi", project)
        user.shell("bin/buildout -N", project)


def add_deploy_part(config, hosts):
    """init's commented deploy part, filled in for the test hosts, with Fabric's pins."""
    pins = versions()
    text = config.read_text().replace("\nparts = django wsgi apache\n", "\nparts = django wsgi apache deploy\n")
    text = text.replace("\n[versions]\n", "\n[versions]\n" + "".join(f"{n} = {pins[n]}\n" for n in FABRIC))
    config.write_text(text + "\n".join([
        "", "[deploy]", "recipe = djangowsgi:deploy",
        "hosts =", *(f"    root@{a}:{hosts.ssh_port}" for a in HOSTS),
        f"path = {hosts.root}/{{host}}", "buildout-config = production.cfg",
        "shared-files = secrets.env",
        f"health-url = http://{{host}}:{hosts.web_port}/admin/login/",
        f"host-settings = apache:listen={{host}}:{hosts.web_port}",
        "before-switch = bin/django migrate --noinput",
        f"identity-file = {hosts.key}", f"known-hosts = {hosts.known_hosts}", ""]))


def test_deploy_ships_the_release_and_the_next_one_goes_out_under_load(user, project):
    """The hosts have no index: the deploy ships djangowsgi's egg with the others.
    Then the pin moves to the next release and a deploy under load fails no request."""
    hosts = started_hosts()
    try:
        for address in HOSTS:
            secrets = hosts.base(address) / "shared" / "secrets.env"
            # localhost: the server-name init wrote, which the health check sends as Host.
            secrets.write_text(f"DJANGO_SECRET_KEY=key-of-{address}\nDJANGO_ALLOWED_HOSTS=localhost,{address}\n"
                               f"DJANGO_DEBUG=false\n")
            shutil.chown(secrets, "root", "www-data")
            os.chmod(secrets, 0o640)
        (project / "production.cfg").write_text("[buildout]\nextends = buildout.cfg\nparts = django wsgi apache\n")
        config = project / "buildout.cfg"
        add_deploy_part(config, hosts)
        git = "git -c user.name=t -c user.email=t@example.com"
        user.shell(f"bin/buildout -N && git init -q && {git} add -A && {git} commit -q -m 'first release'", project)
        # Two hosts, each with a SQLite database of its own: refused, in one line, before any switch.
        refused = user.shell("bin/deploy deploy", project, check=False)
        assert refused.returncode == 1 and re.search(
            r"\nNot deploying release \S+: its settings keep its database in SQLite \(\S+/shared/var/db/db.sqlite3\) "
            r"and the uploads in MEDIA_ROOT \(\S+/shared/var/media\) on each of the 2 hosts, so each would have its "
            r"own: use a database server the hosts share \(PostgreSQL",
            refused.stdout), refused.stdout
        assert not any((hosts.base(address) / "current").exists() for address in HOSTS)
        with open(config, "a") as f:
            f.write("data-on-each-host = true\n")  # these hosts are meant to keep their own: the upgrade is the point
        user.shell(f"bin/buildout -N && {git} commit -q -a -m 'each host its own database'", project)
        user.shell("bin/deploy deploy", project)
        for address in HOSTS:
            assert get(hosts.url(address, "/admin/login/"))[0] == 200
            assert list((hosts.base(address) / "shared" / "eggs").glob(f"*/djangowsgi-{FIRST}-*"))

        # The next release: its pin, committed, and a deploy while visitors come.
        config.write_text(config.read_text().replace(f"djangowsgi = {FIRST}", f"djangowsgi = {NEXT}"))
        user.shell(f"bin/buildout -N && {git} commit -q -a -m 'djangowsgi {NEXT}'", project)
        pages = [lambda a=a: get(hosts.url(a, "/admin/login/"))[0] for a in HOSTS]
        with LoadLoop(pages, limit=4000, seconds=300, settle=1) as load:
            user.shell("bin/deploy deploy", project)
        print(f"upgrade {FIRST} -> {NEXT} under load: {len(load.failures)} of {len(load.results)} failed")
        assert load.failures == [] and len(load.results) > 50
        for address in HOSTS:
            current = hosts.base(address) / "current"
            assert f"/djangowsgi-{NEXT}-" in loaded_from(current / "bin" / "apache")
            assert get(hosts.url(address, "/admin/login/"))[0] == 200
    finally:
        hosts.stop()
        if not os.environ.get("DJANGOWSGI_KEEP"):
            shutil.rmtree(hosts.root, ignore_errors=True)


GUIDE = REPO / "docs" / "buildout.rst"
VIEWS = """
from django.http import HttpResponse


def hello(request):
    return HttpResponse("hello, edited")


def boom(request):
    return 1 / 0


urlpatterns += [path("hello/", hello), path("boom/", boom)]
"""


def test_the_newcomers_guide_as_written(user, project):
    """docs/buildout.rst's blocks in order, on the released project: a dependency
    (PostgreSQL's driver) added and pinned, the database moved to a PostgreSQL of
    the test's own, the edit loop, and a 500 and a 400 read from the error log."""
    settings = project / "shopfront" / "djangowsgi_settings.py"
    edited = [project / "setup.py", project / "buildout.cfg", project / "secrets.env", settings,
              project / "shopfront" / "urls.py"]
    saved = {path: path.read_text() for path in edited}
    postgres = PostgresServer(user.root, free_port())

    def run(block):  # PGHOST and PGPORT: the doc's psql and createdb reach that server, not the machine's
        for command in filter(None, block.splitlines()):
            user.shell(command, project, env=postgres.env)
    try:
        # Adding a dependency: an egg left unpinned is named; pinned, it builds.
        line = doc_block(GUIDE, "so that no compiler is needed", "::\n").strip()
        setup = project / "setup.py"
        setup.write_text(setup.read_text().replace("install_requires=['Django'],", line))
        pins = doc_block(GUIDE, "then pin it, and each egg it needs")
        config = project / "buildout.cfg"
        unpinned = pins.replace("typing-extensions = 4.16.0\n", "")
        config.write_text(saved[config].replace("\n[versions]\n", "\n[versions]\n" + unpinned))
        refused = user.shell("bin/buildout -N", project, check=False)
        assert refused.returncode and "Picked: typing-extensions = 4.16.0" in refused.stdout + refused.stderr
        config.write_text(saved[config].replace("\n[versions]\n", "\n[versions]\n" + pins))
        run(doc_block(GUIDE, "then serves the new code", "::\n"))
        # The database: the role and the database, the settings, the password, the commands.
        run(doc_block(GUIDE, "make the role and the database (on\nDebian, as root)", "::\n"))
        with open(settings, "a") as f:
            f.write("\n" + doc_block(GUIDE, "stay as they are for ``runserver``)", ".. code-block:: python\n"))
        with open(project / "secrets.env", "a") as f:
            f.write(doc_block(GUIDE, "never into a file you commit", "::\n") + f"DATABASE_PORT={postgres.port}\n")
        run(doc_block(GUIDE, "DATABASE_PASSWORD=change-me\n\nThen", "::\n"))
        assert get(f"http://127.0.0.1:{user.port}/admin/login/")[0] == 200
        assert "django_session" in postgres.psql("SELECT tablename FROM pg_tables", "mysite")
        # The edit loop: new views, served after the reload.
        with open(project / "shopfront" / "urls.py", "a") as f:
            f.write(VIEWS)
        run(doc_block(GUIDE, "a change to the code or the templates", "::\n"))
        assert get(f"http://127.0.0.1:{user.port}/hello/") == (200, "hello, edited")
        # Logs and errors: a 500's traceback, and the 400 of a name not in ALLOWED_HOSTS.
        assert get(f"http://127.0.0.1:{user.port}/boom/")[0] == 500
        request = urllib.request.Request(f"http://127.0.0.1:{user.port}/", headers={"Host": "www.mysite.example"})
        with pytest.raises(urllib.error.HTTPError) as refused_host:
            urllib.request.urlopen(request, timeout=20)
        assert refused_host.value.code == 400
        log = user.shell(doc_block(GUIDE, "standard error)", "::\n").strip(), project).stdout
        assert "Internal Server Error: /boom/" in log and "ZeroDivisionError: division by zero" in log, log
        assert "Invalid HTTP_HOST header: 'www.mysite.example'. You may need to add 'www.mysite.example' to " \
               "ALLOWED_HOSTS." in log, log
    finally:
        for path, text in saved.items():
            path.write_text(text)
        user.shell("bin/buildout -N && bin/apache reload", project)
        postgres.stop()
