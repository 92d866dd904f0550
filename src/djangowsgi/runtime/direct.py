"""Requests that go straight to their server, whatever http_proxy says: a
server's own status listener on loopback, a host's health check."""
import urllib.request

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def open_url(url_or_request, timeout):
    return OPENER.open(url_or_request, timeout=timeout)
