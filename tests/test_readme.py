"""The complete buildout.cfg of README.rst, built for a project that is not the example."""
import re
import textwrap

from conftest import REPO, SHARED, call_wsgi

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
        INSTALLED_APPS = ["django.contrib.staticfiles", "mysite"]
        STATIC_URL = "/static/"
        STATIC_ROOT = os.path.join(os.environ["MYSITE_VAR_DIR"], "static")
        DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3",
                                 "NAME": os.path.join(os.environ["MYSITE_VAR_DIR"], "db.sqlite3")}}
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
    for name, text in MYSITE.items():
        path = buildout.path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    buildout.path("var").mkdir()
    buildout.path("readme.cfg").write_text(readme_buildout_cfg())
    # Only what a user has and this checkout lacks: the recipe from this checkout
    # instead of PyPI, and the shared test caches.
    buildout.path("buildout.cfg").write_text(textwrap.dedent(f"""\
        [buildout]
        extends = readme.cfg
        develop = {REPO} .
        eggs-directory = {SHARED / 'eggs'}
        download-cache = {SHARED / 'downloads'}
        """))
    buildout.run()
    assert "System check identified no issues" in buildout.bin("django", "check").stdout
    assert buildout.path("var", "static", "mysite.css").exists()  # collectstatic = true ran
    status, body, path = call_wsgi(buildout.path("parts", "wsgi", "wsgi.wsgi"))
    assert status == "200 OK" and body.strip() == "Hello from mysite"
    # mysite is a develop egg beside this recipe's: the recipe must not come along.
    assert str(REPO / "src") not in path and str(buildout.path("develop-eggs")) not in path
    assert path[0] == str(buildout.directory)
