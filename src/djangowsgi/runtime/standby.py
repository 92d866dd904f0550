"""One host behind its balancer: a change of Apache's configuration that fails
no request. A graceful restart fails requests under load (docs/serving.rst), and
on one host there is no other host to send them to; so a standby Apache starts
with the new configuration on its own port, the balancer sends it the traffic,
this Apache restarts gracefully with none in progress, takes the traffic back,
and the standby stops (the apache part's balancer option, docs/balancer.rst).
Between reloads nothing listens on the standby's port and the balancer's health
check keeps it DOWN; it gets traffic once its own checks pass."""
import dataclasses
import os

from djangowsgi.runtime import direct, haproxy_api
from djangowsgi.runtime.balancer_config import BACKEND
from djangowsgi.runtime.daemons import wait_for
from djangowsgi.runtime.server import WAIT, failed

UP_WAIT = 30.0  # seconds for the balancer's health check to see a server UP


def standby_server(server):
    """The standby as a ServerConfig that apachectl's start and stop work on."""
    spare = server.standby
    return dataclasses.replace(server, config=spare.config, pid_file=spare.pid_file, run_directory=spare.run_directory,
                               error_log=spare.error_log, url=spare.url, host=spare.host, port=spare.port,
                               status_url=None, md_status_url=None, standby=None)


def balancer_answers(server):
    """Does the balancer run, and know this Apache and its standby?"""
    spare = server.standby
    if not os.path.exists(spare.balancer_socket):
        return False
    try:
        known = haproxy_api.states(spare.balancer_socket, BACKEND, {spare.backend, spare.standby_backend})
    except haproxy_api.ApiError:
        return False
    return len(known) == 2


def _up(api, name):
    """UP by its health checks: "UP", not "UP 1/2" (rising) nor DOWN."""
    return haproxy_api.states(api, BACKEND, {name}).get(name, "") == "UP"


def _idle(api, name):
    return not haproxy_api.sessions(api, BACKEND, {name}).get(name)


def warm_up(server, requests=10):
    """A few requests to a freshly started Apache, so that its first answers to the
    balancer's health checks (and visitors) do not wait for Django to load."""
    for _ in range(requests):
        try:
            with direct.open_url(server.url, timeout=10) as response:
                response.read()
        except (OSError, ValueError):
            pass


def swap(server, start, renew, stop):
    """This Apache restarted with its new configuration while the standby serves;
    ``start``, ``renew`` (a graceful restart, or a full one) and ``stop`` are
    apachectl's. The exit status."""
    spare, standby = server.standby, standby_server(server)
    api = spare.balancer_socket
    print(f"The Apache configuration changed: a standby on {standby.url} serves while Apache restarts.")
    stop(standby)  # one an interrupted reload left
    if start(standby):
        stop(standby)
        return failed("The standby did not start with the new configuration; nothing changed.",
                      error_log=standby.error_log)
    warm_up(standby)
    try:
        haproxy_api.set_state(api, BACKEND, spare.standby_backend, "ready")  # a drain left by an interrupted reload
        if not wait_for(lambda: _up(api, spare.standby_backend), UP_WAIT):
            stop(standby)
            return failed(f"The balancer's health check did not see the standby {spare.standby_backend} UP within "
                          f"{UP_WAIT:.0f} s; nothing changed.", error_log=standby.error_log)
        haproxy_api.set_state(api, BACKEND, spare.backend, "drain")
        wait_for(lambda: _idle(api, spare.backend), spare.drain_timeout)
        code = renew(server)
        haproxy_api.set_state(api, BACKEND, spare.backend, "ready")
        if code or not wait_for(lambda: _up(api, spare.backend), UP_WAIT):
            return failed(f"Apache did not come back UP on the balancer after its restart; the standby "
                          f"{spare.standby_backend} goes on serving (bin/<apache part> reload tries again).",
                          error_log=server.error_log)
        haproxy_api.set_state(api, BACKEND, spare.standby_backend, "drain")
        wait_for(lambda: _idle(api, spare.standby_backend), spare.drain_timeout)
        stop(standby)
        haproxy_api.set_state(api, BACKEND, spare.standby_backend, "ready")  # DOWN now: nothing listens
    except haproxy_api.ApiError as e:
        return failed(f"The balancer stopped answering during the swap ({e}); the standby may still serve: "
                      f"bin/<balancer part> status")
    print(f"Apache serves the new configuration; the standby has stopped.")
    return 0
