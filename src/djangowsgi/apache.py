"""Recipe ``djangowsgi:apache``: vhost.conf, wsgi-server.conf, a self-contained
httpd.conf and bin/<part>. Options are read in apache_site.py, checked against
the machine in apache_checks.py, files rendered in apache_config.py."""
import os
import subprocess
import time

from zc.buildout import UserError

from djangowsgi import apache_checks, apache_config, apache_https, lifecycle
from djangowsgi.apache_site import in_effect, read_site
from djangowsgi.machine import Machine
from djangowsgi.options import PartOptions
from djangowsgi.runtime.files import make_directory, write_if_changed
from djangowsgi.runtime import writable


class Recipe:
    def __init__(self, buildout, name, options):
        self.name = name
        self.machine = Machine.probe()
        self.part = PartOptions(buildout, name, options)
        site = self.site = read_site(buildout, name, options, self.machine)
        apache_checks.check_machine(site, self.machine, self.part)
        for key, value in in_effect(site).items():
            options[key] = value
        options["vhost"] = site.layout.vhost
        options["wsgi-server-conf"] = site.layout.server_conf
        options["httpd-conf"] = "" if site.system else site.layout.httpd_conf
        options["systemd-unit"] = "" if site.system else site.systemd_unit
        options["script"] = site.layout.script
        options["url"] = site.url
        options["backends"] = apache_config.backends(site)
        lifecycle.claim(site.layout.directory, site.layout.script)

    def install(self):
        site, layout = self.site, self.site.layout
        apache_checks.check_files(site, self.machine, self.part, installing=True)
        for path in (layout.log_directory, os.path.dirname(site.error_log), os.path.dirname(site.access_log)):
            os.makedirs(path, exist_ok=True)
        make_directory(layout.run_directory)
        make_directory(os.path.dirname(site.socket_prefix))
        make_directory(layout.directory)
        if site.check:
            self._configtest()
        self._make_writable()
        self._keep_unrotated_logs()
        write_if_changed(layout.prune_logs, apache_config.prune_logs(site), mode=0o755)
        if site.system or site.ssl and site.ssl.acme:  # the system Apache's copies come from here
            if not site.system:
                make_directory(site.ssl.acme.store)
            write_if_changed(layout.certificate_event, apache_https.certificate_event(), mode=0o755)
            write_if_changed(layout.certificate_agent, apache_https.certificate_agent(), mode=0o755)
        else:
            for path in (layout.certificate_event, layout.certificate_agent):
                if os.path.exists(path):
                    os.unlink(path)
        write_if_changed(layout.server_conf, apache_config.server_conf(site))
        write_if_changed(layout.vhost, apache_config.vhost(site))
        if site.system:
            for path in (layout.httpd_conf, site.systemd_unit):  # from a build with server = self-contained
                if os.path.exists(path):
                    os.unlink(path)
        else:
            write_if_changed(layout.httpd_conf, apache_config.httpd_conf(site, layout.vhost))
            write_if_changed(site.systemd_unit, apache_config.systemd_unit(site))
        self._write_standby()
        write_if_changed(layout.script, apache_config.control_script(site), mode=0o755)
        return []  # see lifecycle.py

    update = install

    def _write_standby(self):
        """The standby's vhost and httpd.conf (balancer), or none."""
        site, layout = self.site, self.site.layout
        paths = (layout.beside("standby-vhost.conf"), layout.beside("standby-httpd.conf"))
        if not site.balancer:
            for path in paths:
                if os.path.exists(path):
                    os.unlink(path)
            return
        spare = site.standby()
        make_directory(spare.layout.run_directory)
        make_directory(os.path.dirname(spare.socket_prefix))
        write_if_changed(paths[0], apache_config.vhost(spare))
        write_if_changed(paths[1], apache_config.httpd_conf(spare, paths[0]))

    def _make_writable(self):
        """Create the writable directories and give them to the daemon's account
        (as root), or check that the daemon can write them."""
        site = self.site
        for path in site.writable:
            os.makedirs(path, exist_ok=True)
        if self.machine.euid == 0:
            writable.give(site.writable, site.user, site.group)
            return
        apache_checks.check_writable(site, self.machine, self.part)

    def _keep_unrotated_logs(self):
        """rotatelogs replaces the log's name with a link to its current file: a log
        written before rotation was on moves aside first, under a rotated name."""
        site = self.site
        if site.log_rotation == "off":
            return
        for path in (site.error_log, site.access_log):
            if os.path.isfile(path) and not os.path.islink(path) and os.stat(path).st_nlink == 1:
                os.rename(path, path + time.strftime(".%Y%m%d-%H%M%S", time.gmtime(os.stat(path).st_mtime)))

    def _configtest(self):
        """Check the new configuration before it replaces the last good one (with
        the buildout's own paths: served-from may not lead here yet)."""
        site = self.site
        candidate_vhost = site.layout.beside(".vhost.conf.check")
        candidate_httpd = site.layout.beside(".httpd.conf.check")
        built = site.as_built()
        try:
            candidates = ((candidate_vhost, apache_config.vhost(built)),
                          (candidate_httpd, apache_config.httpd_conf(built, candidate_vhost)))
            for path, content in candidates:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(content)
            result = subprocess.run([site.httpd, "-t", "-f", candidate_httpd], capture_output=True, text=True)
        finally:
            for path in (candidate_vhost, candidate_httpd):
                if os.path.exists(path):
                    os.unlink(path)
        if result.returncode:
            message = " ".join((result.stderr or result.stdout).split())
            raise UserError(f"djangowsgi part [{self.name}], option check: apache configtest failed: {message}")


def uninstall(name, options):
    lifecycle.uninstall(options, options.get("script"), os.path.dirname(options.get("vhost", "")))
