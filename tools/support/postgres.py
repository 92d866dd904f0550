"""A PostgreSQL server of a test's own: a new cluster under ``root``, run by the
postgres account, on 127.0.0.1:``port`` and a socket in its directory (never the
machine's own cluster). Commands reach it through PGHOST and PGPORT."""
# psycopg 3 with its binary wheel, as docs/buildout.rst pins it.
PSYCOPG_PINS = {"psycopg": "3.3.9", "psycopg-binary": "3.3.9", "typing-extensions": "4.16.0"}
import shutil
import subprocess
from pathlib import Path


class PostgresServer:
    def __init__(self, root, port):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))[-1].parent
        self.directory, self.port = root / "postgres", port
        self.directory.mkdir()
        shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self.env = {"PGHOST": str(self.directory), "PGPORT": str(port)}
        self._as_postgres(str(self.bin / "initdb"), "--no-sync", "-D", str(self.data), "--auth-local=trust",
                          "--auth-host=scram-sha-256")
        self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "log"), "-w",
                          "-o", f"-p {port} -k {self.directory} -c listen_addresses=127.0.0.1", "start")

    def _as_postgres(self, *command):
        result = subprocess.run(["runuser", "-u", "postgres", "--", *command], capture_output=True, text=True,
                                timeout=120, cwd=self.directory)
        assert result.returncode == 0, f"{' '.join(command)}: {result.stdout}{result.stderr}"
        return result.stdout

    def psql(self, sql, database="postgres"):
        return self._as_postgres("psql", "-h", str(self.directory), "-p", str(self.port), "-d", database,
                                 "-Atc", sql)

    def make_database(self, name, password):
        """A role ``name`` that logs in with ``password`` and owns the database ``name``."""
        self.psql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
        self.psql(f"CREATE DATABASE {name} OWNER {name}")

    def stop(self):
        subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / "pg_ctl"), "-D", str(self.data), "-m",
                        "fast", "-w", "stop"], capture_output=True, timeout=60, cwd=self.directory)
