from django.contrib import admin

from coleman.models import Note

admin.site.register(Note)
