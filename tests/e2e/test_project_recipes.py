"""djangowsgi:django and djangowsgi:wsgi, run through a real bin/buildout."""
import os
import shutil
import subprocess
import sysconfig

import pytest

from conftest import DJANGO, EGGS, REPO, call_wsgi
from helpers import example, example_environment, one_line_error, section, snapshot


def example_parts(coleman=None, wsgi=None, parts="coleman wsgi", environment=""):
    """The example's project parts (buildout.cfg's, its django part as [coleman]);
    ``coleman`` and ``wsgi`` override or add options (None drops one)."""
    return example.parts(parts, names=("django", "wsgi"), rename={"django": "coleman"}, changes={
        "project": {"environment": example_environment(environment)}, "coleman": coleman, "wsgi": wsgi})


@pytest.fixture(scope="module")
def built(new_buildout):
    """The example's parts built once, for the tests that only read them (and
    those that fail a build on purpose, which put the configuration back)."""
    buildout = new_buildout("project-built")
    buildout.build(example_parts())
    return buildout


@pytest.fixture(scope="module")
def scratch(new_buildout):
    """A buildout that each test builds with options of its own first."""
    buildout = new_buildout("project-scratch")
    buildout.path("lib").mkdir()
    return buildout


def test_manage_script_runs_management_commands(built):
    assert "System check identified no issues" in built.bin("coleman", "check").stdout
    built.bin("coleman", "migrate", "--noinput")
    assert built.path("var", "db", "db.sqlite3").exists()
    unknown = built.bin("coleman", "no-such-command", check=False)
    assert unknown.returncode == 1 and "Unknown command" in unknown.stderr


def test_wsgi_script_serves_from_a_python_without_buildout(built):
    built.bin("coleman", "migrate", "--noinput")
    script = built.path("parts", "wsgi", "wsgi.wsgi")
    status, body, path = call_wsgi(script)
    assert status == "200 OK"
    assert "Welcome to Coleman" in body
    baked = [p for p in path if str(built.directory) in p or p.startswith(str(EGGS)) or p.startswith(str(REPO))]
    assert any(f"Django-{DJANGO}" in p for p in baked)
    assert not any("zc.buildout" in p or "zc_buildout" in p for p in path)
    assert str(REPO / "src") not in path
    assert sysconfig.get_paths()["purelib"] not in path


def test_wsgi_directory_holds_the_script_alone(built):
    assert os.listdir(built.path("parts", "wsgi")) == ["wsgi.wsgi"]
    assert built.path("parts", "wsgi", "wsgi.wsgi").stat().st_mode & 0o777 == 0o644


def test_wsgi_script_loaded_twice_puts_each_path_once(built):
    built.bin("coleman", "migrate", "--noinput")
    script = built.path("parts", "wsgi", "wsgi.wsgi")
    _, _, path = call_wsgi(script, extra_code=f"runpy.run_path({str(script)!r})")
    assert len(path) == len(set(path))
    django = [p for p in path if f"Django-{DJANGO}" in p]
    assert len(django) == 1 and path.index(django[0]) < 5


def test_settings_are_assigned_not_defaulted(built):
    built.bin("coleman", "migrate", "--noinput")
    env = {"DJANGO_SETTINGS_MODULE": "some.other.site.settings"}
    status, body, _ = call_wsgi(built.path("parts", "wsgi", "wsgi.wsgi"), environ=env)
    assert status == "200 OK" and "Welcome to Coleman" in body


def test_second_run_rewrites_nothing(built):
    files = [built.path("bin", "coleman"), built.path("parts", "wsgi", "wsgi.wsgi")]
    before = snapshot(*files)
    result = built.run()
    assert "Installing" not in result.stdout + result.stderr
    assert snapshot(*files) == before


def test_removing_parts_removes_their_files(scratch):
    scratch.build(example_parts())
    assert scratch.path("bin", "coleman").exists() and scratch.path("parts", "wsgi").exists()
    scratch.build(example_parts(parts=""))
    assert not scratch.path("bin", "coleman").exists()
    assert not scratch.path("parts", "wsgi").exists()


def test_exports_script_directory_and_python_path(scratch):
    scratch.build(example_parts(parts="coleman wsgi show") + section("show", {
        "recipe": "djangowsgi:django",
        "eggs": "coleman",
        "settings": "coleman.settings",
        "initialization": "# ${coleman:script} ${wsgi:script} ${wsgi:directory}\npaths_of_wsgi = '''${wsgi:python-path}'''",
    }))
    show = scratch.path("bin", "show").read_text()
    assert f"# {scratch.path('bin', 'coleman')} {scratch.path('parts', 'wsgi', 'wsgi.wsgi')} {scratch.path('parts', 'wsgi')}" in show
    assert f"Django-{DJANGO}" in show.split("paths_of_wsgi")[1]


def test_wsgi_part_may_point_at_the_projects_own_application(scratch):
    scratch.build(example_parts(wsgi={"application": "coleman.wsgi:application"}))
    script = scratch.path("parts", "wsgi", "wsgi.wsgi")
    assert "from coleman.wsgi import application as application" in script.read_text()
    scratch.bin("coleman", "migrate", "--noinput")
    status, body, _ = call_wsgi(script)
    assert status == "200 OK" and "Welcome to Coleman" in body


def test_wsgi_part_may_use_other_settings_than_the_manage_script(scratch):
    settings = scratch.path("lib", "wsgisettings.py")
    settings.parent.mkdir(exist_ok=True)
    settings.write_text("from coleman.settings import *\nALLOWED_HOSTS = ['only.scratch']\n")
    scratch.build(example_parts(wsgi={"settings": "wsgisettings", "extra-paths": "lib"}))
    scratch.bin("coleman", "migrate", "--noinput")
    status, _, _ = call_wsgi(scratch.path("parts", "wsgi", "wsgi.wsgi"))
    assert status.startswith("400")  # Host "localhost" is refused by the WSGI part's settings only.
    assert scratch.bin("coleman", "check").returncode == 0


QUOTED = "it's \"quoted\" \\n ''' + __import__('os').getcwd() + ''' $HOME %(x)s"


def test_environment_initialization_and_extra_paths(scratch):
    lib = scratch.path("lib")
    lib.mkdir(exist_ok=True)
    (lib / "sitehook.py").write_text("VALUE = 'from extra-paths'\n")
    initialization = {
        "extra-paths": "lib",
        "initialization": "\nimport sitehook\nos.environ['HOOK'] = sitehook.VALUE + ' / ' + os.environ['QUOTED']",
    }
    scratch.build(example_parts(coleman=initialization, wsgi=initialization, environment="QUOTED=" + QUOTED))
    expected = "from extra-paths / " + QUOTED
    result = scratch.bin("coleman", "shell", "-c", "import os; print(os.environ['HOOK'])")
    assert result.stdout.strip().splitlines()[-1] == expected
    scratch.bin("coleman", "migrate", "--noinput")
    status, body, _ = call_wsgi(
        scratch.path("parts", "wsgi", "wsgi.wsgi"),
        extra_code="import atexit, os; atexit.register(lambda: print('HOOK=' + os.environ['HOOK']))",
    )
    assert status == "200 OK"
    assert body.rstrip("\n").splitlines()[-1] == "HOOK=" + expected  # printed as the WSGI half's Python ends


def test_collectstatic(built):
    # The built part collects at each build: the fixture's build did.
    assert built.path("var", "static", "coleman", "style.css").exists()
    assert built.path("var", "static", "admin", "css", "base.css").exists()
    added = built.example / "coleman" / "static" / "coleman" / "added.css"
    added.write_text("p { color: teal; }\n")
    os.chmod(added, 0o644)
    built.run()  # options unchanged: the part's update collects the new file
    assert built.path("var", "static", "coleman", "added.css").read_text() == "p { color: teal; }\n"


def test_relative_paths_let_the_buildout_move(scratch):
    lib = scratch.path("lib")
    lib.mkdir(exist_ok=True)
    (lib / "sitehook.py").write_text("WHERE = __file__\n")
    hook = {"extra-paths": "lib", "initialization": "import sitehook; print(sitehook.WHERE)"}
    scratch.build(example_parts(coleman=hook, wsgi=hook), buildout_options="relative-paths = true\n")
    for script in (scratch.path("bin", "coleman"), scratch.path("parts", "wsgi", "wsgi.wsgi")):
        assert "os.path.join(base, 'lib')" in script.read_text()
    moved = scratch.directory.with_name(scratch.directory.name + "-moved")
    shutil.copytree(scratch.directory, moved, symlinks=True)
    try:
        shutil.rmtree(lib)
        result = subprocess.run([str(moved / "bin" / "coleman"), "check"], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == str(moved / "lib" / "sitehook.py")
    finally:
        shutil.rmtree(moved)


# Every bad input is a unit test (tests/unit/test_options.py); these show that the
# line reaches the user through bin/buildout and that the last good files stay.
BAD_INPUTS = [
    ("wsgi", dict(wsgi={"settings": None}), "option settings: is required"),
    ("coleman", dict(coleman={"collectstatic": "maybe"}), "option collectstatic: 'maybe' is not true or false"),
]


@pytest.mark.parametrize("part, change, message", BAD_INPUTS, ids=[m.split(":")[0][7:] for _, _, m in BAD_INPUTS])
def test_bad_input_is_one_line_and_keeps_the_last_good_files(built, part, change, message):
    files = [built.path("bin", "coleman"), built.path("parts", "wsgi", "wsgi.wsgi")]
    before = snapshot(*files)
    built.write(example_parts(**change))
    try:
        error = one_line_error(built.run(check=False))
    finally:
        built.write(example_parts())
    assert f"djangowsgi part [{part}]" in error and message in error, error
    assert snapshot(*files) == before
