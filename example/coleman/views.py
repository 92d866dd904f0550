import os

from django.shortcuts import render

from coleman.models import Note


def home(request):
    notes = list(Note.objects.all()[:10])
    response = render(request, "coleman/home.html", {"notes": notes, "count": len(notes)})
    response["X-Process"] = str(os.getpid())  # which process answered: daemon mode shows
    return response
