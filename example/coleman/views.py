from django.shortcuts import render

from coleman.models import Note


def home(request):
    notes = list(Note.objects.all()[:10])
    return render(request, "coleman/home.html", {"notes": notes, "count": len(notes)})
