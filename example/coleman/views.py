import locale
import os
import sys
import time

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

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


@csrf_exempt
def visitor(request):
    """Who Django thinks the visitor is: the address and scheme it sees, and the
    size of a POST's body (tests of the balancer and the docs use it)."""
    text = f"{request.META.get('REMOTE_ADDR')} {request.scheme}"
    if request.method == "POST":
        text += f" {len(request.body)}"
    return HttpResponse(text + "\n", content_type="text/plain")


def encoding(request):
    """The locale the site's Python runs in (LC_CTYPE) and its file-system encoding,
    which a file name with non-ASCII characters is written in."""
    text = f"{locale.setlocale(locale.LC_CTYPE)} {sys.getfilesystemencoding()}\n"
    return HttpResponse(text, content_type="text/plain")
