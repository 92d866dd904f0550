"""bin/<part> raises the limit of open files that Apache inherits (runtime/server.py):
started from a login shell or by systemd it would get 1024, fewer than a process
of 640 workers may hold."""
import os
import resource
import subprocess
import sys

from layout import REPO

SHOW = ("import resource; from djangowsgi.runtime.server import raise_open_files; raise_open_files(8192); "
        "print(*resource.getrlimit(resource.RLIMIT_NOFILE))")
SOFT, HARD = resource.getrlimit(resource.RLIMIT_NOFILE)


def limits_after(soft, hard):
    result = subprocess.run([sys.executable, "-c", SHOW], capture_output=True, text=True, check=True,
                            env=dict(os.environ, PYTHONPATH=str(REPO / "src")),
                            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
    return [int(n) for n in result.stdout.split()]


def test_soft_limit_raised_up_to_the_hard_one():
    assert HARD >= 8192, "this test needs a hard limit of open files of 8192 or more"
    assert limits_after(1024, HARD) == [8192, HARD]


def test_a_higher_limit_is_kept():
    assert limits_after(HARD, HARD) == [HARD, HARD]


def test_a_low_hard_limit_is_raised_where_allowed_else_used_whole():
    soft, hard = limits_after(1024, 4096)
    assert soft == hard and hard in (4096, 8192)  # 8192 as root, where no container forbids it
