"""bin/<balancer part>'s certificate service (https = acme): the loopback Apache
whose mod_md obtains and renews the certificate, and the agent that puts each new
one in service in the running HAProxy through its runtime API (set ssl cert,
commit ssl cert): no reload, no restart, no failed request or dropped connection.

Until mod_md has a certificate, HAProxy serves a temporary self-signed one (as
mod_md does for an Apache), so that it starts and answers the challenges on HTTP.
"""
import os
import signal
import subprocess
import tempfile

from djangowsgi.runtime import certificate_agent, certificates, haproxy_api
from djangowsgi.runtime.daemons import alive, running_pid, wait_for
from djangowsgi.runtime.files import write_if_changed

WAIT = 15.0
TEMPORARY = "djangowsgi temporary certificate"  # its subject: status says it is not the real one


def store_pem(service):
    """The certificate and key mod_md has in service, as one PEM; None before the first."""
    domain = os.path.join(service.store, "domains", service.domain)
    try:
        with open(os.path.join(domain, "pubcert.pem")) as f:
            chain = f.read().strip()
        with open(os.path.join(domain, "privkey.pem")) as f:
            key = f.read().strip()
    except OSError:
        return None
    return f"{chain}\n{key}\n" if "CERTIFICATE" in chain and "PRIVATE KEY" in key else None


def served_pem(service):
    try:
        with open(service.pem) as f:
            return f.read()
    except OSError:
        return None


def prepare(service):
    """The PEM HAProxy reads when it starts or reloads: mod_md's certificate (one
    renewed while HAProxy was stopped included), else a temporary one."""
    pem = store_pem(service)
    if pem:
        write_if_changed(service.pem, pem, mode=0o600)
    elif not served_pem(service):
        write_if_changed(service.pem, temporary_pem(service), mode=0o600)


def temporary_pem(service):
    with tempfile.TemporaryDirectory() as directory:
        key, cert = os.path.join(directory, "key.pem"), os.path.join(directory, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "7",
                        "-subj", f"/O={TEMPORARY}/CN={service.domain}",
                        "-addext", "subjectAltName=" + ",".join(f"DNS:{name}" for name in service.names),
                        "-keyout", key, "-out", cert], check=True, capture_output=True, timeout=60)
        with open(cert) as c, open(key) as k:
            return c.read().strip() + "\n" + k.read().strip() + "\n"


def serve(config):
    """Put mod_md's certificate in service in the running HAProxy when it is not the
    one served; True when it did. Then the PEM on disk, for the next start or reload."""
    service = config.certificate_service
    pem = store_pem(service)
    if not pem or pem == served_pem(service):
        return False
    try:
        answer = haproxy_api.command(config.socket, f"set ssl cert {service.pem} <<\n{pem.strip()}\n")
        if "Transaction created" not in answer and "Transaction updated" not in answer:
            raise haproxy_api.ApiError(" ".join(answer.split()))
        answer = haproxy_api.command(config.socket, f"commit ssl cert {service.pem}")
        if "Success" not in answer:
            raise haproxy_api.ApiError(" ".join(answer.split()))
        served = "HAProxy serves it now"
    except haproxy_api.ApiError as e:
        served = f"HAProxy did not take it ({e}); it reads it when it starts"
    write_if_changed(service.pem, pem, mode=0o600)
    certificate_agent.log(f"certificate for {' '.join(service.names)} in service: {served}")
    return True


def pid(service):
    return running_pid(service.pid_file)


def check(service):
    """apachectl -t of acme-httpd.conf; None when it is valid, else what Apache said."""
    result = subprocess.run([service.apache, "-t", "-f", service.config], capture_output=True, text=True)
    return None if result.returncode == 0 else " ".join((result.stderr or result.stdout).split())


def start(service):
    """Start the loopback Apache unless it runs; None when it runs, else what went wrong."""
    if pid(service):
        return None
    os.makedirs(os.path.dirname(service.pid_file), exist_ok=True)
    os.makedirs(os.path.dirname(service.error_log), exist_ok=True)
    certificate_agent.events_directory(service.events, service.user)  # before mod_md's first event
    result = subprocess.run([service.apache, "-f", service.config, "-k", "start"], capture_output=True, text=True,
                            stdin=subprocess.DEVNULL)
    if result.returncode or not wait_for(lambda: pid(service), WAIT):
        return (f"the Apache that obtains the certificate did not start ({service.error_log}): "
                + " ".join((result.stderr or result.stdout).split()))
    return None


def graceful(service):
    """Read a changed acme-httpd.conf (bin/<part> reload); start it if it is not running."""
    number = pid(service)
    if not number:
        return start(service)
    os.kill(number, signal.SIGUSR1)
    return None


def stop(service):
    number = pid(service)
    if number:
        os.kill(number, signal.SIGTERM)
        wait_for(lambda: not alive(number), WAIT)


def agent(config):
    """bin/<part> certificate-agent: the piped log the loopback Apache starts (acme-httpd.conf)."""
    service = config.certificate_service
    return certificate_agent.agent(service.events, service.user, service.pid_file, lambda: serve(config))


def describe(config):
    """Lines for bin/<part> status: the certificate HAProxy serves (names, expiry) and
    when mod_md renews it."""
    service = config.certificate_service
    try:
        text = haproxy_api.command(config.socket, f"show ssl cert {service.pem}")
        fields = dict(line.split(": ", 1) for line in text.splitlines() if ": " in line)
    except haproxy_api.ApiError:
        fields = {}
    status = certificates.md_status(service.status_url)
    md = next((m for m in status.get("managed-domains", []) if m.get("name") == service.domain), {}) \
        if isinstance(status, dict) else {}
    names = " ".join(service.names)
    if TEMPORARY in fields.get("Subject", "") or not fields:
        state = md.get("state-descr") or (status if isinstance(status, str) else "not obtained yet")
        lines = [f"Certificate for {names}: not obtained yet from {service.authority} ({state}); until it "
                 f"arrives HTTPS serves a temporary one."]
    else:
        lines = [f"Certificate for {fields.get('Subject Alternative Name', names).replace('DNS:', '')}: "
                 f"serial {fields.get('Serial', '?')}, valid until {fields.get('notAfter', '?')}, renewed from "
                 f"{md.get('renew-at', '?')} ({service.authority})."]
    last = md.get("renewal", {}).get("last", {})
    if last.get("status") and last.get("detail"):
        lines.append(f"  last attempt: {last.get('problem', '')} {last['detail']}".rstrip())
    return lines

