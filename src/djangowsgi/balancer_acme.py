"""https = acme on the balancer: the small loopback Apache whose mod_md obtains and
renews the certificate (acme-httpd.conf), and what bin/<part> needs to run it
(runtime/certificate_service.py). mod_md rather than another ACME client: the
apache part drives and tests it already, it renews on its own (no timer to
write), and the same store moves between the two (docs/balancer.rst)."""
import os

from djangowsgi import apache_https, render
from djangowsgi.runtime.balancer_config import CertificateService

MODULES = ("mpm_event", "authz_core", "authz_host", "ssl", "md")


def events(b):
    return os.path.join(b.acme_run_directory, "events")


def httpd_conf(b):
    service, a = b.https.acme, render.apache
    acme = service.acme
    listen = f"{service.host}:{service.port}"
    agent = " ".join(["|" + b.script, "certificate-agent"])
    return render.template(
        "acme-httpd.conf.in",
        part=b.name,
        server_root=a(b.directory),
        pid_file=a(os.path.join(b.acme_run_directory, "httpd.pid")),
        run_dir=a(b.acme_run_directory),
        error_log=a(b.acme_error_log),
        server_name=a(acme.domains[0]),
        user=a(service.user),
        group=a(service.group),
        load_modules="\n".join(f"LoadModule {m}_module {a(os.path.join(service.modules, f'mod_{m}.so'))}"
                               for m in MODULES),
        listen=listen,
        names=" ".join(a(name) for name in acme.domains),
        authority=a(acme.ca),
        store=a(acme.store),
        trust=f"MDCACertificateFile {a(acme.ca_root)}" if acme.ca_root else "# The system's CAs vouch for the authority.",
        email=a(acme.email),
        window=acme.window,
        port=service.port,
        event=a(b.certificate_event),
        events=a(events(b)),
        agent=a(agent),
    )


def certificate_event():
    return apache_https.certificate_event()


def certificate_service(b, pem):
    """What bin/<part> knows of the certificate service: a CertificateService, or None."""
    service = b.https and b.https.acme
    if not service:
        return None
    return CertificateService(
        apache=service.apache, config=b.acme_config, pid_file=os.path.join(b.acme_run_directory, "httpd.pid"),
        error_log=b.acme_error_log, store=service.acme.store, domain=service.acme.domains[0],
        names=service.acme.domains, events=events(b), user=service.user,
        status_url=f"http://{service.host}:{service.port}/md-status", pem=pem, authority=service.acme.ca)
