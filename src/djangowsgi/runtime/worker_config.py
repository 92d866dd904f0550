"""What the worker recipe tells bin/<worker part>: one typed, versioned object,
written into the generated script as a dict and rebuilt from it
(``from_script``, runtime/contract.py). Its paths are as the supervisor
reaches them: through the part's served-from (<path>/current under a deploy)."""
from dataclasses import dataclass

from djangowsgi.runtime.contract import ScriptContract


@dataclass(frozen=True)
class WorkerConfig(ScriptContract):
    SCRIPT = "bin/<worker part>"

    part: str
    worker: str  # parts/<part>/worker: runs the command once, in the eggs' Python
    python: str
    processes: int
    stop_signal: str  # SIGTERM: the one the worker takes for a warm shutdown
    stop_timeout: int  # seconds between it and SIGKILL
    user: str  # "" when buildout did not run as root: the caller's account
    group: str
    run_directory: str  # var/run/<part>: the supervisor's pid file and its state
    log: str  # var/log/<part>/worker.log, always the current file
    rotatelogs: str  # "" when log-rotation = off
    log_rotation: str
    prune_logs: str
    unit: str  # parts/<part>/<unit name>
    script: str = ""  # bin/<part>: what restart runs again (through served-from, the release now current)
