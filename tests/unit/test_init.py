"""djangowsgi init and bootstrap without a machine: the files init writes for a
few projects (golden copies in tests/unit/golden/init-*/), the pins it reads from
a requirements file, and bootstrap's pins. tests/e2e/test_first_hour.py runs them."""
from pathlib import Path

import pytest

from djangowsgi import bootstrap, init, render
from layout import REPO
from test_rendering import compare

STARTPROJECT = init.Project(
    directory=Path("/home/dev/mysite"), settings="mysite.settings", egg="mysite",
    application="mysite.wsgi:application", static_url="/static/", staticfiles=True, sqlite=True,
    requirements=["Django"], pins=[("asgiref", "3.13.0"), ("Django", "5.2.19"), ("sqlparse", "0.6.1")])
SETTINGS_PACKAGE = init.Project(
    directory=Path("/home/dev/shop"), settings="shop.settings.production", egg="shop",
    application="shop.wsgi:application", static_url="/assets/", static_root="/home/dev/shop/collected",
    media_url="/media/", media_root="/srv/$shop/media", staticfiles=True, sqlite=False, packaging=True,
    requirements=["Django"], pins=[("Django", "5.2.19")])


# startproject: djangowsgi installed from the index (pinned, fetched); settings-package: a checkout developed.
@pytest.mark.parametrize("name, project, checkout", [("startproject", STARTPROJECT, None),
                                                     ("settings-package", SETTINGS_PACKAGE, Path("/home/dev/djangowsgi"))])
def test_files_init_writes(name, project, checkout):
    written = init.files(project, checkout, secret_key="a-fixed-key-for-the-golden-copy")
    for path, (content, mode) in written.items():
        compare(f"init-{name}/{path.replace('/', '_')}", content)
        assert mode == (0o600 if path == "secrets.env" else 0o644)
    assert ("setup.py" in written) is not project.packaging


def test_the_checkout_developed_is_the_one_given_or_the_one_init_runs_from(tmp_path):
    assert init.djangowsgi_checkout() == REPO  # these tests import djangowsgi from the checkout's src/
    assert init.djangowsgi_checkout(str(REPO)) == REPO
    with pytest.raises(init.InitError, match=f"{tmp_path} is not a checkout of djangowsgi"):
        init.djangowsgi_checkout(str(tmp_path))


def test_site_settings_sit_beside_the_projects_own():
    assert STARTPROJECT.site_settings == "mysite.djangowsgi_settings"
    assert SETTINGS_PACKAGE.site_settings == "shop.settings.djangowsgi_settings"


@pytest.mark.parametrize("lines, expected", [
    ("Django==5.2.19\nasgiref==3.13.0  # via django\n\n# a comment\n", [("Django", "5.2.19"), ("asgiref", "3.13.0")]),
    ("psycopg[binary]==3.2.1\ntzdata==2025.2 ; sys_platform == 'win32'\n",
     [("psycopg", "3.2.1"), ("tzdata", "2025.2")]),
    ("pip==26.0\nzc.buildout==6.0.1\nDjango==5.2.19\n", [("Django", "5.2.19")]),
])
def test_requirements_file_pins(tmp_path, lines, expected):
    (tmp_path / "requirements.txt").write_text(lines)
    assert init.requirements_file_pins(tmp_path / "requirements.txt") == expected


@pytest.mark.parametrize("lines, message", [
    ("Django>=5\n", "requirements.txt, line 1: 'Django>=5' is not name==version (pip freeze writes those)"),
    ("Django==5.2.19\n-e git+https://example.com/x.git#egg=x\n", "line 2: '-e git+https"),
])
def test_requirements_file_not_pinned(tmp_path, lines, message):
    (tmp_path / "requirements.txt").write_text(lines)
    with pytest.raises(init.InitError, match=None) as raised:
        init.requirements_file_pins(tmp_path / "requirements.txt")
    assert message in str(raised.value)


@pytest.mark.parametrize("url, served", [("/static/", "/static/"), ("/", ""), ("", ""),
                                         ("https://cdn.example/static/", ""), ("//cdn.example/", "")])
def test_only_a_local_path_below_the_root_gets_an_alias(url, served):
    assert init._served_path(url) == served


def test_manage_py_without_settings_is_refused(tmp_path):
    with pytest.raises(init.InitError, match="no manage.py in"):
        init.settings_from_manage_py(tmp_path)
    (tmp_path / "manage.py").write_text("import os\n")
    with pytest.raises(init.InitError, match="does not name DJANGO_SETTINGS_MODULE: give the settings module"):
        init.settings_from_manage_py(tmp_path)
    (tmp_path / "manage.py").write_text("os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'a.settings.dev')\n")
    assert init.settings_from_manage_py(tmp_path) == "a.settings.dev"


def test_ini_values_cannot_start_an_option():
    assert render.ini_value("/srv/$site") == "/srv/$$site"
    with pytest.raises(ValueError):
        render.ini_value("a\nrecipe = evil")


def test_bootstrap_installs_the_versions_the_repository_pins():
    pinned = [line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()
              if line.startswith("zc.")]
    assert tuple(pinned) == bootstrap.BUILDOUT_PINS
    # A server with no djangowsgi makes the same virtualenv by hand (tutorial.rst, step 4).
    assert f"pip install {' '.join(bootstrap.BUILDOUT_PINS)}\n" in (REPO / "docs" / "tutorial.rst").read_text()


def settings_package(directory, *modules, named="dev"):
    package = directory / "shop" / "settings"
    package.mkdir(parents=True)
    for module in ("__init__", *modules):
        (package / f"{module}.py").write_text("")
    (directory / "manage.py").write_text(
        f"os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings.{named}')\n")


@pytest.mark.parametrize("modules, named, given, expected", [
    (("base", "dev", "production"), "dev", None, "shop.settings.production"),
    (("base", "dev", "prod"), "dev", None, "shop.settings.prod"),
    (("base", "dev"), "dev", None, "shop.settings.dev"),
    (("base", "dev", "production"), "dev", "shop.settings.dev", "shop.settings.dev"),
    (("base", "production", "prod"), "production", None, "shop.settings.production"),
])
def test_the_settings_served_are_production_ones_unless_chosen(tmp_path, modules, named, given, expected):
    settings_package(tmp_path, *modules, named=named)
    settings, reason = init.choose_settings(tmp_path, given)
    assert settings == expected
    if given:
        assert reason == "given with --settings"
    elif expected.endswith(named):
        assert reason == "the one manage.py names"
    else:
        assert reason == f"the production module beside shop.settings.{named}, which manage.py names; " \
                         f"--settings chooses another"


@pytest.mark.parametrize("error, hint", [
    ("KeyError: 'DATABASE_URL'", "the settings need the environment variable DATABASE_URL: run init with it set, "
                                 "DATABASE_URL=... djangowsgi init, then put the line DATABASE_URL=... in secrets.env"),
    ("django.core.exceptions.ImproperlyConfigured: Set the SECRET_KEY environment variable",
     "the settings need the environment variable SECRET_KEY"),
    ("ModuleNotFoundError: No module named 'environ'", None),
])
def test_settings_that_need_an_environment_variable_get_a_hint_naming_it(error, hint):
    said = init.environment_hint(error)
    assert (hint in said) if hint else said == ""
