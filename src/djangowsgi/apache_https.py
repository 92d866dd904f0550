"""Rendering HTTPS: the vhost's TLS lines (Mozilla's profiles), mod_md's settings
for https = acme, and the two scripts that put a new certificate in service
(docs/https.rst). Values go through render.py."""
import os

from djangowsgi import render
from djangowsgi.apache_defaults import TLS_PROFILES


def vhost_lines(site):
    """The HTTPS vhost's lines: protocols, the certificate, the TLS profile, HSTS."""
    a = render.apache
    ssl, acme = site.ssl, site.ssl.acme
    protocols = (["h2"] if site.edge.http2 else []) + ["http/1.1"]
    if acme and acme.challenge == "tls-alpn-01":
        protocols.append("acme-tls/1")  # mod_md answers the authority's check on the HTTPS port
    lines = [f"Protocols {' '.join(protocols)}"] if len(protocols) > 1 else []
    lines.append("SSLEngine on")
    if acme:
        lines.append(f"# The certificate: mod_md's, for {' '.join(acme.domains)} (the <MDomain> section above)")
    else:
        lines += [f"SSLCertificateFile {a(ssl.certificate)}", f"SSLCertificateKeyFile {a(ssl.key)}"]
        if ssl.chain:
            lines.append(f"SSLCertificateChainFile {a(ssl.chain)}")
        if ssl.stapling:
            lines.append("SSLUseStapling On")
    profile = TLS_PROFILES[ssl.profile]
    lines += [
        f"# Mozilla's {ssl.profile} TLS profile: TLS 1.2 and 1.3 with forward secrecy only"
        if profile["ciphers"] else f"# Mozilla's {ssl.profile} TLS profile: TLS 1.3 only",
        f"SSLProtocol {profile['protocols']}",
    ]
    if profile["ciphers"]:
        lines.append(f"SSLCipherSuite {profile['ciphers']}")
    lines += [
        "SSLOpenSSLConfCmd Curves X25519:prime256v1:secp384r1",
        "# Every cipher left is strong: the client's preference (it knows whether it has AES hardware).",
        "SSLHonorCipherOrder off",
        "# Tickets would reuse one key for every session until Apache restarts, which breaks forward secrecy.",
        "SSLSessionTickets off",
    ]
    if ssl.hsts is not None:
        lines.append(f"Header always set Strict-Transport-Security {a('max-age=%d' % ssl.hsts)}")
    return lines


def managed_domain(site):
    """The site's <MDomain> section: what mod_md obtains, from whom, how."""
    acme = site.ssl and site.ssl.acme
    if not acme:
        return ""
    lines = [
        f"MDContactEmail {render.apache(acme.email)}",
        f"MDCertificateAuthority {render.apache(acme.ca)}",
        "MDCertificateAgreement accepted",
        f"MDCAChallenges {acme.challenge}",
        f"MDRenewWindow {acme.window}",
        "MDStapling on",
    ]
    names = " ".join(render.apache(name) for name in acme.domains)
    server_wide = []
    if site.system:  # the self-contained server has them in httpd.conf
        server_wide = ["# mod_md's settings for the whole system Apache: the same in every site that sets them."]
        server_wide += _trust_and_ports(site) + [""]
    return "\n".join(server_wide + [
        "# The site's certificate, obtained and renewed by mod_md (docs/https.rst).",
        f"<MDomain {names}>",
        render.indent("\n".join(lines), 4),
        "</MDomain>",
        "",
    ])


def server_scope(site):
    """httpd.conf's TLS settings: the session cache, OCSP stapling's cache, and mod_md's."""
    if not site.ssl:
        return "# No HTTPS."
    a, served = render.apache, site.served
    # The client resumes its session for 5 minutes: a shorter handshake (tickets are off).
    lines = [f"SSLSessionCache {a('shmcb:' + served(site.layout.run_directory) + '/ssl-sessions(512000)')}"]
    if site.ssl.stapling and not site.ssl.acme:
        lines.append(f"SSLStaplingCache {a('shmcb:' + served(site.layout.run_directory) + '/ssl-stapling(128000)')}")
    if site.ssl.acme:
        lines += ["", _certificate_service(site)]
    return "\n".join(lines)


def _certificate_service(site):
    """mod_md's settings for the whole server: its store, whom to trust, the
    public ports, and the two scripts that put a new certificate in service."""
    acme = site.ssl.acme
    served = site.served
    lines = [
        f"# Certificates from {acme.ca}, obtained and renewed by mod_md (docs/https.rst)",
        f"MDStoreDir {render.apache(served(acme.store))}",
    ] + _trust_and_ports(site)
    layout = site.layout
    lines += _certificate_scripts(site.python, served(layout.certificate_agent), served(layout.certificate_event),
                                  served(layout.certificate_events), site.user, served(layout.pid_file))
    return "\n".join(lines)


def _trust_and_ports(site):
    """Whom mod_md trusts besides the system's CAs, and the local ports of the public 80 and 443."""
    acme = site.ssl.acme
    lines = [f"MDCACertificateFile {render.apache(acme.ca_root)}"] if acme.ca_root else []
    ports = [] if site.port == 443 else [f"https:{site.port}"]
    if site.ssl.redirect and site.ssl.http_port != 80:
        ports.insert(0, f"http:{site.ssl.http_port}")
    if ports:
        lines.append(f"MDPortMap {' '.join(ports)}")
    return lines


SYSTEM_SCRIPTS = "djangowsgi"  # <confdir>/djangowsgi/: certificate-agent and certificate-event


def _certificate_scripts(python, agent, event, events, user, pid_file):
    pipe = " ".join(["|" + python, agent, events, user, pid_file])
    return [
        "# mod_md runs certificate-event as the server's user, which cannot restart a server",
        "# started as root; certificate-agent, a piped log started with the server (it writes",
        "# nothing to it), restarts it gracefully when a new certificate is ready.",
        f"MDMessageCmd {render.apache(event)} {render.apache(events)}",
        f'CustomLog {render.apache(pipe)} "-" env=DJANGOWSGI_NEVER_SET',
    ]


def certificate_event():
    return render.template("certificate-event.in")


def certificate_agent():
    with open(os.path.join(os.path.dirname(__file__), "runtime", "certificate_agent.py"), encoding="utf-8") as f:
        return f.read()


def system_server_scope(site):
    """The system Apache's share of the above, in wsgi-server.conf: the same for every site."""
    scripts = os.path.join(site.confdir, SYSTEM_SCRIPTS)
    return "\n".join([
        "<IfModule ssl_module>",
        "    SSLStaplingCache shmcb:${APACHE_RUN_DIR}/djangowsgi-ssl-stapling(128000)",
        "</IfModule>",
        "# Certificates of the sites with https = acme: one store for every site.",
        "<IfModule md_module>",
        f"    MDStoreDir {render.apache(os.path.join(site.confdir, 'md'))}",
        render.indent("\n".join(_certificate_scripts(
            "/usr/bin/python3", os.path.join(scripts, "certificate-agent"), os.path.join(scripts, "certificate-event"),
            "${APACHE_RUN_DIR}/djangowsgi-certificates", "${APACHE_RUN_USER}", "${APACHE_PID_FILE}")), 4),
        "</IfModule>",
    ])
