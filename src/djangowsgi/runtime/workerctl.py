"""bin/<worker part>: start, stop, restart, status, logs, foreground.

``start`` runs a supervisor in the background (``foreground`` runs it here, as
the systemd unit does): it keeps ``processes`` workers running, each the part's
worker script, restarting one that exits; on SIGTERM it sends each worker
``stop-signal`` (its warm shutdown: a task in progress finishes), waits
``stop-timeout`` seconds, kills what is left and exits. On SIGHUP (``restart``)
it does the same, then runs bin/<part> foreground again in its own process, so
that the workers and the supervisor start on the code that is current now (a
deploy's new release) and the pid that systemd or the pid file knows stays.
Their output goes to var/log/<part>/worker.log, through rotatelogs.

Standard library only.
"""
import json
import os
import pwd
import grp
import signal
import subprocess
import sys
import time

from djangowsgi.runtime.daemons import alive, running_pid, wait_for
from djangowsgi.runtime.files import write_if_changed
from djangowsgi.runtime.worker_config import WorkerConfig

USAGE = """usage: bin/{part} start|stop|restart|status|logs [-n LINES]|foreground
  start       run the workers in the background, under a supervisor that restarts one that exits
  stop        warm shutdown: stop-signal to each worker, SIGKILL after stop-timeout
  restart     warm shutdown of the workers, then the supervisor and its workers on the code current now
  status      the supervisor and each worker: pid, since when, restarts
  logs        the last lines of the workers' log (-n LINES, 50 by default)
  foreground  the supervisor in this terminal (the systemd unit runs this)
"""
BACKOFF_MAX = 30.0  # seconds before a worker that keeps dying is started again
QUICK_DEATH = 10.0  # a worker that dies sooner than this after its start backs off


def pid_file(config):
    return os.path.join(config.run_directory, "supervisor.pid")


def state_file(config):
    return os.path.join(config.run_directory, "workers.json")


def supervisor_pid(config):
    return running_pid(pid_file(config))


def log_pipe(config):
    """Where the workers write: rotatelogs (a process of its own), or the log file."""
    os.makedirs(os.path.dirname(config.log), exist_ok=True)
    if not config.rotatelogs:
        return None, open(config.log, "ab")
    logger = subprocess.Popen([config.rotatelogs, "-L", config.log, "-p", config.prune_logs,
                               config.log + ".%Y%m%d-%H%M%S", config.log_rotation],
                              stdin=subprocess.PIPE, start_new_session=True)
    return logger, logger.stdin


def as_user(config):
    """preexec_fn for a worker: the part's account, when the supervisor runs as root."""
    if os.geteuid() != 0 or not config.user:
        return None
    entry = pwd.getpwnam(config.user)
    gid = grp.getgrnam(config.group).gr_gid if config.group else entry.pw_gid

    def become():
        os.setgid(gid)
        os.initgroups(config.user, gid)
        os.setuid(entry.pw_uid)
    return become


def supervise(config):
    """The supervisor's loop; returns when it was told to stop and the workers are
    gone, or, told to restart, becomes bin/<part> foreground anew (same pid)."""
    os.makedirs(config.run_directory, exist_ok=True)
    write_if_changed(pid_file(config), f"{os.getpid()}\n")
    logger, out = log_pipe(config)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append("stop"))
    signal.signal(signal.SIGINT, lambda *_: stopping.append("stop"))
    signal.signal(signal.SIGHUP, lambda *_: stopping.append("restart"))
    since = time.time()
    slots = {n: {"process": None, "started": 0.0, "since": 0.0, "restarts": 0, "due": 0.0, "backoff": 1.0}
             for n in range(config.processes)}
    preexec = as_user(config)
    restarting = False
    try:
        while not stopping:
            for n, slot in slots.items():
                process = slot["process"]
                if process is not None and process.poll() is None:
                    continue
                now = time.monotonic()
                if process is not None:  # it exited: start it again, later if it died young
                    lived = now - slot["started"]
                    slot["backoff"] = min(slot["backoff"] * 2, BACKOFF_MAX) if lived < QUICK_DEATH else 1.0
                    slot["due"] = now + (slot["backoff"] if lived < QUICK_DEATH else 0)
                    slot["restarts"] += 1
                    slot["process"] = None
                    note(out, f"worker {n + 1} (pid {process.pid}) exited with {process.returncode}; "
                              f"starting it again")
                if now >= slot["due"]:
                    # A session of its own: a Ctrl-C in foreground reaches the supervisor alone,
                    # which then sends each worker stop-signal once.
                    slot["process"] = subprocess.Popen([config.python, config.worker], stdin=subprocess.DEVNULL,
                                                       stdout=out, stderr=out, preexec_fn=preexec,
                                                       start_new_session=True)
                    slot["started"], slot["since"] = now, time.time()
            save_state(config, slots, since)
            time.sleep(0.2)
        restarting = "restart" in stopping and "stop" not in stopping
        note(out, f"{'restarting' if restarting else 'stopping'} {config.processes} worker(s): "
                  f"{config.stop_signal}, then SIGKILL after {config.stop_timeout} s")
        stop_workers(config, [s["process"] for s in slots.values() if s["process"] is not None])
        if restarting:
            note(out, f"starting {control_script(config)} foreground again")
    finally:
        if not restarting:
            for path in (pid_file(config), state_file(config)):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        out.close()
        if logger:
            logger.wait(timeout=10)
    if restarting:
        script = control_script(config)
        os.execv(script, [script, "foreground"])
    return 0


def control_script(config):
    """bin/<part>, through served-from (a script without it in its contract: the one running)."""
    return config.script or os.path.abspath(sys.argv[0])


def stop_workers(config, processes):
    number = getattr(signal, config.stop_signal)
    for process in processes:
        if process.poll() is None:
            process.send_signal(number)
    deadline = time.monotonic() + config.stop_timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def note(out, message):
    out.write(f"[{time.strftime('%Y-%m-%d %H:%M:%S')}] djangowsgi supervisor: {message}\n".encode())
    out.flush()


def save_state(config, slots, since):
    """What status reads: the supervisor's start, the worker script's real path (the
    release it is in) and each worker."""
    workers = [{"pid": s["process"].pid if s["process"] else None, "since": s["since"], "restarts": s["restarts"]}
               for s in slots.values()]
    state = {"since": since, "runs": os.path.realpath(config.worker), "workers": workers}
    write_if_changed(state_file(config), json.dumps(state) + "\n")


def read_state(config):
    try:
        with open(state_file(config)) as f:
            state = json.load(f)
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def started_workers(config):
    return [w["pid"] for w in read_state(config).get("workers", []) if w["pid"]]


def start(config):
    if supervisor_pid(config):
        print(f"[{config.part}] already running (supervisor pid {supervisor_pid(config)}).")
        return 0
    os.makedirs(config.run_directory, exist_ok=True)
    subprocess.Popen([control_script(config), "foreground"], stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    pids = workers_once(config, lambda: len(started_workers(config)) == config.processes, 20, "start")
    if not pids:
        return 1
    print(f"[{config.part}] started {config.processes} worker(s) (pids {pids}), supervisor pid "
          f"{supervisor_pid(config)}; log: {config.log}")
    return 0


def workers_once(config, condition, seconds, doing):
    """The workers' pids ("12, 13") once ``condition`` holds within ``seconds``; else
    says they did not ``doing`` and gives None."""
    if not wait_for(condition, seconds):
        print(f"[{config.part}] the workers did not {doing}: see {config.log}", file=sys.stderr)
        return None
    return ", ".join(map(str, started_workers(config)))


def restart(config):
    """A warm shutdown of the workers, then the supervisor and its workers anew on the
    code current now: SIGHUP to the supervisor, which keeps its pid."""
    pid = supervisor_pid(config)
    if not pid:
        return start(config)
    before = read_state(config).get("since", 0)
    os.kill(pid, signal.SIGHUP)

    def restarted():
        state = read_state(config)
        return state.get("since", 0) > before and len(started_workers(config)) == config.processes
    pids = workers_once(config, lambda: restarted() and supervisor_pid(config) == pid, config.stop_timeout + 30,
                        "start again")
    if not pids:
        return 1
    print(f"[{config.part}] restarted {config.processes} worker(s) (pids {pids}) on "
          f"{read_state(config)['runs']}, supervisor pid {pid}")
    return 0


def stop(config):
    pid = supervisor_pid(config)
    if not pid:
        print(f"[{config.part}] not running.")
        return 0
    os.kill(pid, signal.SIGTERM)
    if not wait_for(lambda: not alive(pid), config.stop_timeout + 10):
        print(f"[{config.part}] the supervisor (pid {pid}) did not stop", file=sys.stderr)
        return 1
    print(f"[{config.part}] stopped.")
    return 0


def status(config):
    pid = supervisor_pid(config)
    if not pid:
        print(f"[{config.part}] not running.")
        return 3
    state = read_state(config)
    print(f"[{config.part}] supervisor pid {pid}, {config.processes} worker(s) of {state.get('runs', '?')}:")
    for n, worker in enumerate(state.get("workers", []), 1):
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(worker["since"]))
        state = f"pid {worker['pid']} since {since}" if worker["pid"] else "waiting to start again"
        print(f"  worker {n}: {state}, restarted {worker['restarts']} time(s)")
    return 0


def logs(config, arguments):
    lines = int(arguments[1]) if len(arguments) == 2 and arguments[0] == "-n" else 50
    try:
        with open(config.log, "rb") as f:
            text = f.read().decode("utf-8", "replace").splitlines()
    except FileNotFoundError:
        print(f"[{config.part}] no log yet ({config.log}).")
        return 0
    print("\n".join(text[-lines:]))
    return 0


def main(values, argv=None):
    config = WorkerConfig.from_script(values)
    argv = sys.argv[1:] if argv is None else argv
    command = argv[0] if argv else ""
    if command == "start":
        return start(config)
    if command == "stop":
        return stop(config)
    if command == "restart":
        return restart(config)
    if command == "status":
        return status(config)
    if command == "logs":
        return logs(config, argv[1:])
    if command == "foreground":
        return supervise(config)
    print(USAGE.format(part=config.part), end="", file=sys.stderr if command not in ("-h", "--help") else sys.stdout)
    return 0 if command in ("-h", "--help") else 2
