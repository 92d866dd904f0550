from django.http import HttpResponse
from django.urls import path

from coleman.urls import urlpatterns as coleman
from deploytasks.tasks import record


def enqueue(request, word, seconds):
    record.enqueue(word, float(seconds))
    return HttpResponse(f"queued {word}\n")


urlpatterns = [path("enqueue/<str:word>/<str:seconds>/", enqueue)] + coleman
