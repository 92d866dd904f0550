"""HAProxy's runtime API on its UNIX socket: one command a connection, and the
two answers the balancer reads (``show stat``'s servers, ``show servers state``)."""
import csv
import io
import socket


class ApiError(OSError):
    pass


def command(path, line, timeout=10):
    """The answer of HAProxy to one command line."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(path)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError as e:
        raise ApiError(f"HAProxy's runtime API at {path} did not answer: {e}") from None
    return b"".join(chunks).decode("utf-8", "replace")


def servers(path, backend):
    """Each server of ``backend`` as show stat gives it: a dict of its columns
    (status, scur: its sessions now, qcur: requests queued for it, check_status...)."""
    text = command(path, "show stat")
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return [row for row in rows if row.get("pxname") == backend and row.get("svname") not in ("FRONTEND", "BACKEND")]


def checked(answer):
    """An answer of a command that says nothing when it works (set server, add map)."""
    text = answer.strip()
    if text:
        raise ApiError(text)


def set_state(path, backend, server, state):
    """A server's admin state: ready, drain or maint."""
    checked(command(path, f"set server {backend}/{server} state {state}"))


def states(path, backend, names):
    """{server: status} of ``names`` (UP, DOWN, DRAIN, MAINT, "UP 1/2" while rising...)."""
    return {row["svname"]: row["status"] for row in servers(path, backend) if row["svname"] in names}


def sessions(path, backend, names):
    """{server: its requests in progress and queued} of ``names``."""
    return {row["svname"]: int(row.get("scur") or 0) + int(row.get("qcur") or 0)
            for row in servers(path, backend) if row["svname"] in names}
