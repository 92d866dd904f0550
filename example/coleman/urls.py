from django.conf import settings
from django.contrib import admin
from django.urls import path, re_path
from django.views.static import serve

from coleman import views

urlpatterns = [
    path("", views.home, name="home"),
    path("admin/", admin.site.urls),
    path("waiting/", views.waiting),  # bench/run.py only: a page that waits 5 ms off the CPU
    path("visitor/", views.visitor),  # the address and scheme Django sees (behind a balancer)
    path("encoding/", views.encoding),  # the locale the site runs in (embedded mode: Apache's)
    # The collected static files served by Django itself: only for comparing it
    # with Apache serving /static/ (bench/run.py).
    re_path(r"^django-static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
]
