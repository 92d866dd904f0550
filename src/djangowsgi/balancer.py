"""Recipe ``djangowsgi:balancer``: parts/<part>/haproxy.cfg and bin/<part> for a
self-contained HAProxy in front of one Apache or many. Options are read in
balancer_site.py, files rendered in balancer_files.py, the server run by
runtime/balancerctl.py."""
import os
import subprocess

from zc.buildout import UserError

from djangowsgi import balancer_acme, balancer_files, lifecycle
from djangowsgi.balancer_site import in_effect, read_balancer
from djangowsgi.machine import Haproxy
from djangowsgi.options import PartOptions
from djangowsgi.runtime import certificate_service
from djangowsgi.runtime.balancerctl import assemble_certificates
from djangowsgi.runtime.files import make_directory, write_if_changed


class Recipe:
    def __init__(self, buildout, name, options):
        self.name = name
        self.part = PartOptions(buildout, name, options)
        self.balancer = read_balancer(buildout, name, options, Haproxy.probe(self.part.get("haproxy")))
        for key, value in in_effect(self.balancer).items():
            options[key] = value
        options["systemd-unit"] = self.balancer.systemd_unit
        if self.balancer.stats_listen:
            host, port = self.balancer.stats_listen
            options["stats-url"] = f"http://{host}:{port}/stats"
        lifecycle.claim(self.balancer.directory, self.balancer.script)

    def install(self):
        b = self.balancer
        for path in (b.run_directory, b.log_directory):
            make_directory(path)
        make_directory(b.tls_directory, mode=0o700)
        if not os.path.exists(b.maintenance_map):  # bin/<part> maintenance on|off keeps it
            write_if_changed(b.maintenance_map, "")
        content = balancer_files.haproxy_cfg(b)
        acme_conf = balancer_acme.httpd_conf(b) if b.https and b.https.acme else None
        if acme_conf:
            make_directory(b.acme_run_directory)
            self._acme_configtest(acme_conf)
        self._configtest(content)
        write_if_changed(b.builtin_page, balancer_files.builtin_maintenance_page())
        write_if_changed(b.prune_logs, balancer_files.prune_logs(b), mode=0o755)
        if acme_conf:
            make_directory(b.https.acme.acme.store)  # mod_md would make var/md/ 0700: its children could not reach it
            write_if_changed(b.certificate_event, balancer_acme.certificate_event(), mode=0o755)
            write_if_changed(b.acme_config, acme_conf)
        else:  # the store in var/md/ stays: turned on again, the certificate is still there
            for path in (b.certificate_event, b.acme_config):
                if os.path.exists(path):
                    os.unlink(path)
        write_if_changed(b.config, content)
        write_if_changed(b.systemd_unit, balancer_files.systemd_unit(b))
        write_if_changed(b.script, balancer_files.control_script(b), mode=0o755)
        return []  # see lifecycle.py

    update = install

    def _configtest(self, content):
        """haproxy -c on the new haproxy.cfg before it replaces the last good one."""
        b = self.balancer
        candidate = b.beside(".haproxy.cfg.check")
        make_directory(b.directory)
        pem = balancer_files.certificate_pem(b)
        made_pem = False
        try:
            with open(candidate, "w", encoding="utf-8") as f:
                f.write(content)
            if b.https and not os.path.exists(pem):  # bin/<part> makes it at each start; the check needs one
                config = balancer_files.balancer_config(b)
                if config.certificate_service:
                    write_if_changed(pem, certificate_service.temporary_pem(config.certificate_service), mode=0o600)
                else:
                    assemble_certificates(config)
                made_pem = True
            if not os.path.exists(b.builtin_page):
                write_if_changed(b.builtin_page, balancer_files.builtin_maintenance_page())
            result = subprocess.run([b.haproxy, "-c", "-q", "-f", candidate], capture_output=True, text=True)
        finally:
            os.unlink(candidate)
            if made_pem and os.path.exists(pem):
                os.unlink(pem)
        if result.returncode:
            message = " ".join((result.stderr or result.stdout).split())
            raise UserError(f"djangowsgi part [{self.name}]: haproxy -c refused the generated haproxy.cfg: {message}")


    def _acme_configtest(self, content):
        """apache -t on the certificate service's configuration before it replaces the last good one."""
        b = self.balancer
        make_directory(b.directory)
        candidate = b.beside(".acme-httpd.conf.check")
        try:
            with open(candidate, "w", encoding="utf-8") as f:
                f.write(content)
            result = subprocess.run([b.https.acme.apache, "-t", "-f", candidate], capture_output=True, text=True)
        finally:
            os.unlink(candidate)
        if result.returncode:
            message = " ".join((result.stderr or result.stdout).split())
            raise UserError(f"djangowsgi part [{self.name}]: apache -t refused the generated acme-httpd.conf: "
                            f"{message}")


def uninstall(name, options):
    lifecycle.uninstall(options, options.get("script"), os.path.dirname(options.get("config", "")))
