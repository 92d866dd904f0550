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


@pytest.mark.parametrize("name, project", [("startproject", STARTPROJECT), ("settings-package", SETTINGS_PACKAGE)])
def test_files_init_writes(name, project):
    written = init.files(project, Path("/home/dev/djangowsgi"), secret_key="a-fixed-key-for-the-golden-copy")
    for path, (content, mode) in written.items():
        compare(f"init-{name}/{path.replace('/', '_')}", content)
        assert mode == (0o600 if path == "secrets.env" else 0o644)
    assert ("setup.py" in written) is not project.packaging


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
