"""The project's own WSGI callable (the ``application`` option can point here)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "coleman.settings")
application = get_wsgi_application()
