"""The complete buildout.cfg of docs/reference.rst and the system.cfg of
docs/serving.rst, built for a project that is not the example."""
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap
import urllib.request

import pytest

from conftest import BUILDOUT, DJANGOWSGI_VERSION, DOWNLOADS, EGGS, REPO, call_wsgi, make_account
from helpers import doc_block
from support.dist import build_release

# Ports 80 and 443, 127.0.0.1:8000 and the account mysite, against the other worker (conftest.py).
pytestmark = pytest.mark.usefixtures("well_known_ports")

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


REFERENCE = REPO / "docs" / "reference.rst"
BALANCER = REPO / "docs" / "balancer.rst"
SERVING = REPO / "docs" / "serving.rst"


def build(project, config, env=None):
    result = subprocess.run([str(BUILDOUT), "-N", "-c", config], cwd=project, capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def project(new_buildout):
    """reference.rst's complete buildout.cfg for its project, djangowsgi taken from the tree."""
    directory = new_buildout("readme")
    project = directory.path("mysite")
    project.mkdir()
    for name, text in MYSITE.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    (project / "buildout.cfg").write_text(doc_block(REFERENCE, "A complete ``buildout.cfg``"))
    # Only the shared test caches differ from what a user has, and djangowsgi, developed from the
    # tree rather than fetched (tests/e2e/test_release.py fetches it: a release's egg in the shared
    # eggs directory would outlive a change to the tree).
    (project / "local.cfg").write_text(textwrap.dedent(f"""\
        [buildout]
        extends = buildout.cfg
        develop = . {REPO}
        eggs-directory = {EGGS}
        download-cache = {DOWNLOADS}
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
    assert not any(p.startswith(str(REPO)) or os.path.basename(p).startswith("djangowsgi-") for p in path)
    assert path[0] == str(project)
    # The unit that "The self-contained server" links, under the name it gives.
    unit = re.search(r"systemctl link \$PWD/(\S+)", SERVING.read_text()).group(1)
    assert (project / unit).exists()


def test_readme_system_cfg_serves_the_site_from_the_system_apache(project, system_apache):
    """serving.rst, "Several sites on one Apache", steps 1-5, on a private copy of /etc/apache2."""
    make_account("mysite")
    env = {**os.environ, **system_apache.env}
    try:
        (project / "system.cfg").write_text(doc_block(SERVING, "a ``system.cfg`` beside it"))
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
        # The daemon's name in ps, as serving.rst gives it.
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
        build(project, "local.cfg")  # the self-contained server again, for the other tests of the module


SHOP = {
    "setup.py": """
        from setuptools import setup
        setup(name="shop", version="1.0", packages=["shop", "catalog"], install_requires=["Django"])
        """,
    "shop/__init__.py": "",
    "shop/production.py": """
        import os
        SECRET_KEY = "djangorecipe-guide"
        DEBUG = False
        ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
        ROOT_URLCONF = "shop.urls"
        INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "catalog"]
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                                 "NAME": os.path.join(os.environ["SHOP_VAR_DIR"], "shop.sqlite3")}}
        """,
    "shop/urls.py": """
        from django.urls import path
        from catalog.views import home
        urlpatterns = [path("", home)]
        """,
    "catalog/__init__.py": "",
    "catalog/views.py": """
        from django.http import HttpResponse
        def home(request):
            return HttpResponse("The shop's catalog")
        """,
    "catalog/tests.py": """
        from django.test import SimpleTestCase
        class HomeTest(SimpleTestCase):
            def test_home(self):
                self.assertContains(self.client.get("/"), "catalog")
        """,
}


def test_djangorecipe_buildout_converted_by_the_guide_builds_tests_and_serves(new_buildout):
    """docs/djangorecipe.rst's converted buildout, for the project it describes,
    and its commands as written: the app's tests pass and Apache serves the site."""
    guide = REPO / "docs" / "djangorecipe.rst"
    directory = new_buildout("djangorecipe")
    project = directory.path("shop")
    index, home = directory.path("index"), directory.path("home")
    build_release(index, DJANGOWSGI_VERSION)  # stands for PyPI, in ~/.buildout/default.cfg
    (home / ".buildout").mkdir(parents=True)
    (home / ".buildout" / "default.cfg").write_text(f"[buildout]\nfind-links = {index}\n")
    for name, text in SHOP.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(textwrap.dedent(text))
    (project / "var").mkdir()
    djangorecipe = doc_block(guide, "and this djangorecipe buildout:")
    assert "recipe = djangorecipe" in djangorecipe and "wsgi = true" in djangorecipe
    (project / "buildout.cfg").write_text(doc_block(guide, "becomes:\n"))
    # bin/buildout as djangowsgi bootstrap makes it, from the tests' virtualenv (the same pins).
    subprocess.run([str(BUILDOUT), "-q", "bootstrap"], cwd=project, check=True, capture_output=True)
    commands = [line for line in doc_block(guide, "Then, in the project's directory", "::\n").splitlines()
                if line.strip()]
    assert commands == ["bin/buildout -N", "bin/django test catalog", "bin/django migrate --noinput",
                        "bin/apache start"]
    try:
        for command in commands:
            result = subprocess.run(command.split(), cwd=project, capture_output=True, text=True, timeout=300,
                                    env=dict(os.environ, HOME=str(home)))
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            if command == "bin/django test catalog":
                assert "Ran 1 test" in result.stderr and "OK" in result.stderr
        with urllib.request.urlopen("http://127.0.0.1:8000/", timeout=20) as response:
            assert response.read().decode() == "The shop's catalog"
    finally:
        subprocess.run([str(project / "bin" / "apache"), "stop"], capture_output=True)


HTTPS = REPO / "docs" / "https.rst"


def test_https_doc_public_site_gets_its_certificate_from_pebble(project):
    """docs/https.rst as written: its pebble on loopback, its public.cfg (the front
    door) and pebble.cfg (the test's caches aside) on ports 80 and 443, its commands;
    and its Apache-alone and system-Apache variants build."""
    for port in (80, 443):
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", port)) != 0, f"something already listens on port {port}"
    assert not os.path.exists("/tmp/pebble"), "/tmp/pebble exists: the test would overwrite it"
    make_account("mysite")
    authority = subprocess.Popen(["bash", "-e", "-c", doc_block(HTTPS, "On a machine whose ports 80 and 443", "::\n")],
                                 start_new_session=True)
    try:
        assert authority.wait(timeout=120) == 0
        public = doc_block(REPO / "README.rst", "``public.cfg`` beside\n``buildout.cfg``")
        assert public == doc_block(HTTPS, "``djangowsgi init`` writes one like it, beside ``front.cfg``")
        (project / "public.cfg").write_text(public)
        (project / "pebble.cfg").write_text(doc_block(HTTPS, "points the public site at it"))
        caches = f"develop = . {REPO}\neggs-directory = {EGGS}\ndownload-cache = {DOWNLOADS}\n"
        (project / "local-pebble.cfg").write_text("[buildout]\nextends = pebble.cfg\n" + caches)
        commands = doc_block(HTTPS, "client that trusts pebble's root", "::\n")
        # The test's buildout (no bootstrap in this project) and caches.
        commands = commands.replace("bin/buildout -N -c pebble.cfg", f"{BUILDOUT} -N -c local-pebble.cfg")
        result = subprocess.run(["bash", "-e", "-c", commands], cwd=project, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Certificate for www.mysite.example, mysite.example: serial" in result.stdout, result.stdout
        assert result.stdout.endswith("Hello from mysite"), result.stdout
        for script in ("balancer", "apache"):
            subprocess.run([str(project / "bin" / script), "stop"], cwd=project, check=True, capture_output=True)
        # Apache alone and the system Apache build as written (tests/e2e/test_https.py serves both).
        for name, anchor, readme_anchor, built in [
                ("apache-public.cfg", "``apache-public.cfg`` beside the same", None, "vhost.conf"),
                ("system.cfg", "443 already:", "On the machine's Apache the same site is", "vhost.conf")]:
            block = doc_block(HTTPS, anchor)
            if readme_anchor:
                assert block == doc_block(REPO / "README.rst", readme_anchor)
            (project / name).write_text(block)
            (project / f"local-{name}").write_text(f"[buildout]\nextends = {name}\n" + caches)
            build(project, f"local-{name}")
            assert "<MDomain www.mysite.example mysite.example>" in (project / "parts" / "apache" / built).read_text()
    finally:
        for script in ("balancer", "apache"):
            if (project / "bin" / script).exists():
                subprocess.run([str(project / "bin" / script), "stop"], cwd=project, capture_output=True)
        try:
            os.killpg(authority.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        shutil.rmtree("/tmp/pebble", ignore_errors=True)
        build(project, "local.cfg")  # the self-contained server of the module's other tests
        subprocess.run(["userdel", "--force", "mysite"], capture_output=True)


def listening_on_80():
    """The names of the processes that listen on port 80."""
    found = subprocess.run(["ss", "-ltnpH", "sport = :80"], capture_output=True, text=True, check=True).stdout
    return set(re.findall(r'\(\("([^"]+)"', found))


def page_on_80():
    request = urllib.request.Request("http://127.0.0.1:80/", headers={"Host": "www.mysite.example"})
    with urllib.request.urlopen(request, timeout=20) as response:
        return response.read().decode()


def test_balancer_doc_one_host_serves_the_site_through_haproxy_on_port_80(project):
    """docs/balancer.rst, "One host": its front.cfg and its commands as written (the
    test's buildout and caches aside), then the page through HAProxy on port 80."""
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", 80)) != 0, "something already listens on port 80"
    (project / "front.cfg").write_text(doc_block(BALANCER, "``front.cfg`` beside the"))
    (project / "local-front.cfg").write_text(
        f"[buildout]\nextends = front.cfg\ndevelop = . {REPO}\neggs-directory = {EGGS}\n"
        f"download-cache = {DOWNLOADS}\n")
    commands = doc_block(BALANCER, "Then, as root (port 80)", "::\n")
    assert commands.startswith("bin/buildout -N -c front.cfg\n")
    commands = commands.replace("bin/buildout -N -c front.cfg", f"{BUILDOUT} -N -c local-front.cfg")
    try:
        result = subprocess.run(["bash", "-e", "-c", commands], cwd=project, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Running (pid" in result.stdout and "127.0.0.1:8000: " in result.stdout, result.stdout
        request = urllib.request.Request("http://127.0.0.1:80/", headers={"Host": "www.mysite.example"})
        with urllib.request.urlopen(request, timeout=20) as response:
            assert response.read().decode() == "Hello from mysite"
        with socket.socket() as probe:  # Apache is on loopback alone
            assert probe.connect_ex(("127.0.0.2", 8000)) != 0
        # The same site served by Apache alone on port 80, then moved behind the balancer.
        for script in ("balancer", "apache"):
            subprocess.run([str(project / "bin" / script), "stop"], cwd=project, check=True, capture_output=True)
        (project / "alone.cfg").write_text("[buildout]\nextends = local.cfg\n\n[apache]\nlisten = *:80\n")
        build(project, "alone.cfg")
        subprocess.run([str(project / "bin" / "apache"), "start"], cwd=project, check=True, capture_output=True)
        assert listening_on_80() == {"apache2"} and page_on_80() == "Hello from mysite"
        moving = doc_block(BALANCER, "moves behind the\nbalancer with the same", "::\n")
        assert moving.startswith("bin/buildout -N -c front.cfg\n")
        moving = moving.replace("bin/buildout -N -c front.cfg", f"{BUILDOUT} -N -c local-front.cfg")
        result = subprocess.run(["bash", "-e", "-c", moving], cwd=project, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == 0, result.stdout + result.stderr
        assert listening_on_80() == {"haproxy"} and page_on_80() == "Hello from mysite"
    finally:
        for script in ("balancer", "apache"):
            subprocess.run([str(project / "bin" / script), "stop"], cwd=project, capture_output=True)
        build(project, "local.cfg")
