"""The version is set in one place, and every recorded release is what it says."""
import re
import subprocess

from layout import REPO, VERSION as DJANGOWSGI_VERSION


def recorded_releases():
    lines = (REPO / "releases.txt").read_text().splitlines()
    return [line.split()[:2] for line in lines if line.strip() and not line.startswith("#")]


def changes_headings():
    text = (REPO / "CHANGES.txt").read_text()
    return re.findall(r"^(\S+) \((.*)\)\n-+\n", text, re.M)


def test_each_recorded_release_is_a_commit_of_that_version_with_its_changes():
    headings = dict(changes_headings())
    for version, commit in recorded_releases():
        shown = subprocess.run(["git", "show", f"{commit}:setup.py"], cwd=REPO, capture_output=True, text=True)
        assert shown.returncode == 0, f"{commit} ({version}) is not in this repository's history"
        assert f'version="{version}"' in shown.stdout, f"{commit} is not version {version}"
        assert version in headings and "unreleased" not in headings[version], version


def test_the_working_tree_version_is_unreleased_or_recorded():
    headings = changes_headings()
    recorded = dict(recorded_releases())
    if DJANGOWSGI_VERSION in recorded:  # the release commit itself
        assert headings[0][0] == DJANGOWSGI_VERSION
    else:
        assert re.fullmatch(r"\d+\.\d+\.\d+\.dev\d+", DJANGOWSGI_VERSION)
        assert headings[0] == (DJANGOWSGI_VERSION.rsplit(".dev", 1)[0], "unreleased")
        assert DJANGOWSGI_VERSION.rsplit(".dev", 1)[0] not in recorded


def test_the_docs_pin_the_working_tree_version():
    # tests/e2e/test_docs.py builds these pins against the working tree.
    for document in ("reference.rst", "djangorecipe.rst"):
        text = (REPO / "docs" / document).read_text()
        assert re.findall(r"^    djangowsgi = (.+)$", text, re.M) == [DJANGOWSGI_VERSION], document
