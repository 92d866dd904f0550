"""What the jobs recipe tells bin/<jobs part>: one typed, versioned object,
written into the generated script as a dict and rebuilt from it
(``from_script``, runtime/contract.py)."""
from dataclasses import dataclass

from djangowsgi.runtime.contract import ScriptContract


@dataclass(frozen=True)
class JobsConfig(ScriptContract):
    SCRIPT = "bin/<jobs part>"

    part: str
    job_script: str  # parts/<part>/job NAME: runs that job's command once, in the eggs' Python
    python: str
    jobs: list  # [{"name", "schedule", "command"}], command: a management command's argument list
    user: str  # "" when buildout did not run as root
    group: str
    run_directory: str  # var/run/<part>: each job's lock and last run
    log_directory: str  # var/log/<part>: each job's log
