import os
import time

from django.http import HttpResponse
from django.shortcuts import render

from coleman.models import Note


def home(request):
    notes = list(Note.objects.all()[:10])
    response = render(request, "coleman/home.html", {"notes": notes, "count": len(notes)})
    response["X-Process"] = str(os.getpid())  # which process answered: daemon mode shows
    return response


def waiting(request):
    """The home page after waiting on "another service" (?ms=, 5 by default, at most
    100): a view that spends time off the CPU, as one calling a remote database
    does. Only for bench/run.py, which compares daemon thread counts with it."""
    ms = request.GET.get("ms", "5")
    time.sleep(min(int(ms), 100) / 1000 if ms.isdigit() else 0.005)
    return home(request)


def visitor(request):
    """Who Django thinks the visitor is: the address and scheme it sees (tests of the
    balancer's X-Forwarded-For and X-Forwarded-Proto, and the docs, use it)."""
    return HttpResponse(f"{request.META.get('REMOTE_ADDR')} {request.scheme}\n", content_type="text/plain")
