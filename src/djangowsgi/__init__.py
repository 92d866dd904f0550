"""zc.buildout recipes that take a Django project from pinned eggs to Apache/mod_wsgi."""
