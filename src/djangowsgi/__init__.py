"""zc.buildout recipes that take a Django project from pinned eggs to Apache/mod_wsgi."""

# The one place the version is set: pyproject.toml reads it from here. Released
# versions and their commits are listed in releases.txt.
__version__ = "0.2.0.dev0"
