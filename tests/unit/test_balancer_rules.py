"""The balancer part's rules, from its options alone: bad input in one line
naming the part and the option, the backends it takes from a deploy part,
what it writes back, and the contract with bin/<part> (BalancerConfig)."""
import pytest
from zc.buildout import UserError

from djangowsgi import apache_config, balancer_files
from djangowsgi.apache_site import read_site
from djangowsgi.balancer_site import in_effect, read_balancer
from djangowsgi.runtime.balancer_config import Backend, BalancerConfig
from layout import buildout, haproxy, machine

BALANCER = {"server-name": "www.mysite.example", "backends": "127.0.0.1:8000"}


def read(probed=None, **options):
    """The part read from BALANCER with ``options`` changed (None: left out)."""
    options = {key: value for key, value in {**BALANCER, **options}.items() if value is not None}
    return read_balancer(buildout(), "balancer", options, probed or haproxy())


def error_of(probed=None, **options):
    with pytest.raises(UserError) as raised:
        read(probed, **options)
    message = str(raised.value)
    assert "\n" not in message and message.startswith("djangowsgi part [balancer], option ")
    return message[len("djangowsgi part [balancer], "):]


BAD_INPUTS = [
    ({"backends": ""}, "option backends: is required: host:port of each Apache, one a line"),
    ({"backends": "web1.example"}, "option backends: 'web1.example' has no port of Apache's: write host:port, "
                                   "or give backend-port (the port the apache part listens on)"),
    ({"backends": "web1.example:70000"}, "option backends: port 70000 in 'web1.example:70000' is outside 1-65535"),
    ({"backends": "web1.example:80 x"}, "option backends: 'web1.example:80 x' is not host:port "
                                        "(a host name or an IPv4 address)"),
    ({"backends": "a:8000\na:8000"}, "option backends: a:8000 is named twice"),
    ({"backend-port": "0", "backends": "deploy@web1"}, "option backend-port: 0 is out of range (from 1 to 65535)"),
    ({"retry-methods": "GET POST"}, "option retry-methods: POST is not idempotent: replaying it after a failure "
                                    "may do twice what the visitor asked once (idempotent: GET, HEAD, OPTIONS, "
                                    "TRACE, PUT, DELETE)"),
    ({"retry-on": "conn-failure sometimes"}, "option retry-on: 'sometimes' is not one of HAProxy's retry-on "
                                             "conditions (conn-failure, empty-response, junk-response, "
                                             "response-timeout, 0rtt-rejected, 404, 408, 425, 500, 501, 502, 503, "
                                             "504, all-retryable-errors, none)"),
    ({"stats-listen": "0.0.0.0:9000"}, "option stats-listen: '0.0.0.0:9000' is not on loopback: the stats page "
                                       "and the metrics are for this machine only (127.0.0.1:PORT)"),
    ({"stats-listen": "9000"}, "option stats-listen: '9000' is not on loopback: the stats page and the metrics "
                               "are for this machine only (127.0.0.1:PORT)"),
    ({"listen": "99999"}, "option listen: port 99999 is outside 1-65535"),
    ({"timeout-server": "1 minute"}, "option timeout-server: '1 minute' is not a duration like 5s, 500ms or 2m"),
    ({"balance": "fastest"}, "option balance: 'fastest' is not one of leastconn, roundrobin, first, source, "
                             "random"),
    ({"server-name": None}, "option server-name: is required (the site's host name, sent as Host in each "
                            "health check)"),
    ({"health-check": "health"}, "option health-check: 'health' is not a URL path like /health/"),
    ({"ssl-certificate": "/etc/ssl/site.pem"}, "option ssl-certificate-key: is required when ssl-certificate "
                                               "is given"),
    ({"hsts": "31536000"}, "option hsts: needs https = acme, or ssl-certificate and ssl-certificate-key"),
    ({"acme-email": "a@mysite.example"}, "option acme-email: needs https = acme, or ssl-certificate and "
                                         "ssl-certificate-key"),
    ({"cache": "static"}, "option cache: 'static' is not a URL path prefix like /static/, or off"),
    ({"cache": "off", "cache-size": "10M"}, "option cache-size: needs the cache (cache is off)"),
    ({"cache-size": "8G"}, "option cache-size: is outside 1M-4095M (HAProxy's cache sizes are in megabytes)"),
]
ACME = {"https": "acme", "acme-email": "webmaster@mysite.example", "acme-agreement": "true"}
WITH_MOD_MD = dict(apache="/usr/sbin/apache2", apache_modules="/usr/lib/apache2/modules", has_mod_md=True)
ACME_BAD_INPUTS = [
    ({"server-name": "localhost"}, "option server-name: localhost cannot get a certificate from Let's Encrypt: "
                                   "it needs a public domain name that resolves to this server"),
    ({"server-name": "192.0.2.10"}, "option server-name: 192.0.2.10 cannot get a certificate from Let's "
                                    "Encrypt: it needs a public domain name that resolves to this server"),
    ({"server-aliases": "*.mysite.example"}, "option server-aliases: *.mysite.example is a wildcard: mod_md gets "
                                             "one only through dns-01, which djangowsgi does not set up; name "
                                             "each host"),
    ({"acme-email": None}, "option acme-email: is required (the authority writes there before a certificate "
                           "expires)"),
    ({"acme-agreement": None}, "option acme-agreement: must be true: it says you accept Let's Encrypt's "
                               "terms (https://letsencrypt.org/repository/)"),
    ({"acme-challenge": "tls-alpn-01"}, "option acme-challenge: the balancer answers http-01 alone: tls-alpn-01 "
                                        "is answered in the TLS handshake, which HAProxy ends"),
    ({"redirect-http": "false"}, "option redirect-http: must be on with https = acme: the authority checks the "
                                 "site on its HTTP port, where HAProxy answers the challenges and redirects the "
                                 "rest"),
    ({"ssl-certificate": "/etc/ssl/site.pem"}, "option ssl-certificate: is for a certificate from elsewhere; with "
                                               "https = acme the balancer obtains the certificate: remove one of "
                                               "the two"),
    ({"acme-listen": "127.0.0.1:80"}, "option acme-listen: port 80 is the port of http-listen"),
    ({"acme-listen": "127.0.0.1:10443"}, "option acme-listen: port 10443 is the port of stats-listen"),
    ({"acme-listen": "0.0.0.0:20443"}, "option acme-listen: '0.0.0.0:20443' is not on loopback: the Apache that "
                                       "obtains the certificate answers HAProxy alone (127.0.0.1:PORT)"),
]


@pytest.mark.parametrize("options, message", ACME_BAD_INPUTS, ids=[m.split(":")[0] + str(i)
                                                                   for i, (_, m) in enumerate(ACME_BAD_INPUTS)])
def test_https_acme_bad_input_is_one_line_naming_the_option(options, message):
    assert error_of(haproxy(**WITH_MOD_MD), **{**ACME, **options}) == message


def test_https_acme_without_mod_md_says_what_to_install():
    assert error_of(**ACME) == ("option https: acme needs Apache with mod_md and mod_ssl, which obtain the "
                                "certificate: apt install apache2")


def test_https_acme_defaults_hsts_redirect_and_the_loopback_apache():
    b = read(haproxy(**WITH_MOD_MD), **ACME)
    assert (b.port, b.https.http_port, b.https.hsts, b.https.redirect) == (443, 80, 63072000, True)
    assert (b.https.acme.host, b.https.acme.port, b.https.acme.user) == ("127.0.0.1", 20443, "nobody")
    config = BalancerConfig.from_script(balancer_files.balancer_config(b).to_script())
    assert config.certificate_service.names == ("www.mysite.example",) and config.certificates == ()
    assert config.certificate_service.store.endswith("/var/md/balancer")


@pytest.mark.parametrize("options, message", BAD_INPUTS, ids=[m.split(":")[0] + str(i)
                                                               for i, (_, m) in enumerate(BAD_INPUTS)])
def test_bad_input_is_one_line_naming_the_option(options, message):
    assert error_of(**options) == message


def test_no_haproxy_on_the_machine_says_what_to_install():
    message = error_of(haproxy(path=None, found=False))
    assert message == ("option haproxy: no haproxy on this machine: install Debian's haproxy package "
                       "(apt install haproxy) or name the binary")


def test_without_rotatelogs_the_log_is_kept_unrotated_or_refused():
    assert error_of(haproxy(rotatelogs=None)).startswith("option log-rotation: rotatelogs is not on this machine")
    assert balancer_files.log_command(read(haproxy(rotatelogs=None), **{"log-rotation": "off"})) == ""


def test_the_deploy_parts_hosts_are_backends_at_backend_port():
    """``backends = ${deploy:hosts}``: user@host[:ssh port] is the host, at Apache's port."""
    balancer = read(backends="deploy@web1.example\ndeploy@web2.example:2222\nweb3.example:8001",
                    **{"backend-port": "8000"})
    assert balancer.backends == (Backend("web1.example:8000", "web1.example", 8000),
                                 Backend("web2.example:8000", "web2.example", 8000),
                                 Backend("web3.example:8001", "web3.example", 8001))


def test_what_the_machine_chose_is_written_back():
    written = in_effect(read(listen="8080"))
    assert written["haproxy"] == "/usr/sbin/haproxy"
    assert written["listen"] == "*:8080"
    assert written["url"] == "http://127.0.0.1:8080/"
    assert written["backends"] == "127.0.0.1:8000"


def test_as_root_haproxy_drops_to_its_own_account_and_otherwise_runs_as_the_user():
    assert (read().user, read().group) == ("haproxy", "haproxy")
    assert read(haproxy(euid=1000)).user is None


def test_the_stats_listener_is_on_loopback_beside_the_site_and_the_exporter_where_haproxy_has_it():
    balancer = read(listen="127.0.0.1:8080")
    config = balancer_files.balancer_config(balancer)
    assert (config.stats_url, config.metrics_url) == ("http://127.0.0.1:18080/stats", "http://127.0.0.1:18080/metrics")
    assert balancer_files.balancer_config(read(haproxy(prometheus=False), listen="8080")).metrics_url == ""
    assert "stats" not in balancer_files.haproxy_cfg(read(**{"stats-listen": "off"})).split("backend site")[1]


def test_the_config_of_bin_balancer_reads_back_and_a_newer_one_is_refused():
    config = balancer_files.balancer_config(read(backends="a.example:8000\nb.example:8000\nb.example:8001"))
    assert BalancerConfig.from_script(config.to_script()) == config
    assert [b.name for b in config.backends_named("b.example")] == ["b.example:8000", "b.example:8001"]
    assert [b.name for b in config.backends_named("b.example:8001")] == ["b.example:8001"]
    assert config.backends_named("c.example") == []
    with pytest.raises(ValueError, match="written by a newer djangowsgi"):
        BalancerConfig.from_script({**config.to_script(), "config_version": 99})


def test_retries_of_requests_that_are_not_idempotent_are_limited_to_failed_connections():
    cfg = balancer_files.haproxy_cfg(read())
    assert "retry-on conn-failure empty-response 503" in cfg
    assert "http-request disable-l7-retry unless { method GET HEAD OPTIONS }" in cfg


def test_only_the_cache_paths_are_stored_in_the_cache():
    """HAProxy's cache ignores Vary: Cookie: a page Django marked cacheable must not be kept for all."""
    cfg = balancer_files.haproxy_cfg(read(cache="/static/\n/media/"))
    assert "set-var(txn.cacheable) bool(true) if { path_beg /static/ /media/ }" in cfg
    assert "http-response cache-store static if { var(txn.cacheable) -m bool }" in cfg


APACHE = {"wsgi-script": "/srv/mysite/parts/wsgi/wsgi.wsgi", "server-name": "www.mysite.example"}


def test_trusted_proxies_must_be_addresses_or_networks():
    with pytest.raises(UserError) as raised:
        read_site(buildout(), "apache", {**APACHE, "trusted-proxies": "balancer.example"}, machine())
    assert str(raised.value) == ("djangowsgi part [apache], option trusted-proxies: 'balancer.example' is not an "
                                 "IP address or network like 127.0.0.1 or 10.0.0.0/24 (the balancer's)")


def test_without_trusted_proxies_no_visitors_x_forwarded_proto_reaches_django():
    site = read_site(buildout(), "apache", APACHE, machine())
    assert "    RequestHeader unset X-Forwarded-Proto\n" in apache_config.vhost(site)
    assert "remoteip" not in apache_config.httpd_conf(site, site.layout.vhost)


def read_apache(**options):
    return read_site(buildout(), "apache", {**APACHE, **options}, machine())


@pytest.mark.parametrize("options, message", [
    ({"balancer": "balancer", "server": "system"},
     "option balancer: is for the self-contained server (server = system shares its Apache)"),
    ({"balancer": "balancer", "ssl-certificate": "/etc/ssl/a.pem", "ssl-certificate-key": "/etc/ssl/a.key"},
     "option balancer: behind a balancer HTTPS ends there: give the certificate to the balancer part and leave "
     "https and ssl-certificate off here"),
    ({"standby-listen": "127.0.0.1:8001"}, "option standby-listen: needs balancer (the balancer part in front of "
                                           "this Apache)"),
    ({"balancer": "balancer", "listen": "127.0.0.1:8000", "standby-listen": "127.0.0.1:8000"},
     "option standby-listen: port 8000 is the port of listen"),
])
def test_the_apache_parts_balancer_options_refuse_what_cannot_work(options, message):
    with pytest.raises(UserError) as raised:
        read_apache(**options)
    assert str(raised.value) == f"djangowsgi part [apache], {message}"


def test_one_host_behind_its_balancer_has_a_standby_beside_it_that_the_balancer_knows():
    site = read_apache(listen="127.0.0.1:8000", balancer="balancer")
    assert site.standby_listen == ("127.0.0.1", 8001)
    assert apache_config.backends(site) == "127.0.0.1:8000\n127.0.0.1:8001 standby"
    spare = site.standby()
    assert (spare.port, spare.status_listen, spare.layout.pid_file) == (
        8001, None, "/srv/mysite/var/run/apache/standby/httpd.pid")
    config = apache_config.server_config(site)
    assert config.standby.balancer_socket == "/srv/mysite/var/run/balancer/admin.sock"
    assert (config.standby.backend, config.standby.standby_backend) == ("127.0.0.1:8000", "127.0.0.1:8001")
    from djangowsgi.runtime.server_config import ServerConfig
    assert ServerConfig.from_script(config.to_script()) == config
    moved = config.seen_from("/srv/mysite", "/srv/current")
    assert moved.standby.config == "/srv/current/parts/apache/standby-httpd.conf"
    assert apache_config.backends(read_apache(listen="127.0.0.1:8000")) == "127.0.0.1:8000"
    # The balancer checks the standby like any server (DOWN while nothing listens there);
    # a host's name designates the others alone.
    balancer = read(backends=apache_config.backends(site))
    assert "    server 127.0.0.1:8001 127.0.0.1:8001\n" in balancer_files.haproxy_cfg(balancer)
    named = balancer_files.balancer_config(balancer).backends_named("127.0.0.1")
    assert [b.name for b in named] == ["127.0.0.1:8000"]


def hosts_apache_block():
    """docs/balancer.rst's apache part of the hosts behind a balancer ("Several hosts")."""
    import configparser
    from layout import REPO
    text = (REPO / "docs" / "balancer.rst").read_text()
    block = text.split("and trusts the balancer's", 1)[1].split(".. code-block:: ini\n", 1)[1]
    lines = []
    for line in block.splitlines()[1:]:
        if line and not line.startswith("    "):
            break
        lines.append(line[4:])
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string("\n".join(lines))
    return dict(parser["apache"])


def shape(site):
    return site.mode, site.edge.server_limit, site.edge.threads_per_child


def test_behind_a_balancer_on_one_host_apache_runs_embedded_in_2_x_8_threads_preloaded_below_the_balancers_queue():
    site = read_apache(listen="127.0.0.1:8000", balancer="balancer")
    assert shape(site) == ("embedded", 2, 8)
    vhost, httpd = apache_config.vhost(site), apache_config.httpd_conf(site, site.layout.vhost)
    assert "WSGIDaemonProcess" not in vhost and "MaxRequestWorkers 16\n" in httpd
    assert "process-group=%{GLOBAL} application-group=%{GLOBAL}" in vhost
    balancer = read(backends=apache_config.backends(site))
    # Below Apache's workers: with every worker busy the health checks time out.
    assert balancer.server_maxconn == 12 < site.edge.workers
    assert shape(read_apache(listen="127.0.0.1:8000")) == ("daemon", 4, 640)


@pytest.mark.parametrize("daemon_option", [{"processes": "3"}, {"threads": "4"}, {"workload": "cpu"},
                                           {"body-processes": "0"}, {"maximum-requests": "1000"},
                                           {"mode": "daemon"}])
def test_a_daemon_option_behind_a_balancer_keeps_daemon_mode_with_2_x_32_workers(daemon_option):
    site = read_apache(listen="127.0.0.1:8000", balancer="balancer", **daemon_option)
    assert shape(site) == ("daemon", 2, 32)
    assert "WSGIDaemonProcess" in apache_config.vhost(site)


def test_the_shape_in_effect_behind_a_balancer_is_written_back_and_reads_the_same():
    from djangowsgi.apache_site import in_effect
    site = read_apache(listen="127.0.0.1:8000", balancer="balancer")
    written = in_effect(site)
    assert (written["mode"], written["workers"]) == ("embedded", "16")
    assert read_apache(listen="127.0.0.1:8000", balancer="balancer", **written) == site
    assert shape(read_apache(listen="127.0.0.1:8000", balancer="balancer", workers="32")) == ("embedded", 2, 16)


def test_the_hosts_of_the_balancer_doc_take_the_shape_of_one_host_behind_its_balancer():
    block = hosts_apache_block()
    hosts = read_apache(**{**block, "listen": "10.0.0.2:8000"})
    assert shape(hosts) == shape(read_apache(listen="127.0.0.1:8000", balancer="balancer"))
    assert hosts.trusted_proxies == ("10.0.0.5/32",)
    assert read(backends="10.0.0.2:8000").server_maxconn < hosts.edge.workers


def init_public_balancer():
    """The balancer part of the public.cfg that djangowsgi init writes, over its front.cfg."""
    import configparser
    from pathlib import Path
    from djangowsgi import init
    from test_init import STARTPROJECT
    written = init.files(STARTPROJECT, Path("/home/dev/djangowsgi"), secret_key="k")
    options = {}
    for name in ("front.cfg", "public.cfg"):
        parser = configparser.ConfigParser(interpolation=None)
        parser.read_string(written[name][0])
        options.update(parser["balancer"])
    options.pop("recipe")
    substituted = {"${apache:server-name}": "www.example.com", "${apache:backends}": "127.0.0.1:8000"}
    return {key: substituted.get(value, value) for key, value in options.items()}


def test_init_public_cfg_asks_for_the_terms_then_is_the_front_door_with_acme():
    options = init_public_balancer()
    with pytest.raises(UserError) as raised:
        read_balancer(buildout(), "balancer", options, haproxy(**WITH_MOD_MD))
    assert "option acme-agreement: must be true: it says you accept Let's Encrypt's terms" in str(raised.value)
    b = read_balancer(buildout(), "balancer", {**options, "acme-agreement": "true"}, haproxy(**WITH_MOD_MD))
    assert (b.port, b.https.http_port, b.https.acme.acme.domains) == (443, 80, ("www.example.com",))
