"""The certificate agent's handling of mod_md's events, and what status says of
md-status: plain functions, no Apache."""
import os

from djangowsgi.runtime import certificate_agent, certificates


def test_agent_logs_every_event_and_returns_the_renewed_domains(tmp_path, capsys):
    (tmp_path / "1.10").write_text("renewing www.mysite.example\n")
    (tmp_path / "2.11").write_text("renewed www.mysite.example\n")
    (tmp_path / ".3.12").write_text("renewed half-written.example\n")  # certificate-event is still writing it
    assert certificate_agent.take_events(str(tmp_path)) == ["www.mysite.example"]
    assert os.listdir(tmp_path) == [".3.12"]
    log = capsys.readouterr().err
    assert "certificate-agent: mod_md: renewing www.mysite.example" in log
    assert "certificate-agent: mod_md: renewed www.mysite.example" in log


def test_agent_without_a_running_server_says_so(tmp_path, capsys):
    certificate_agent.graceful(str(tmp_path / "httpd.pid"), ["www.mysite.example"])
    assert "no graceful restart" in capsys.readouterr().err


STATUS = {"managed-domains": [
    {"name": "www.mysite.example", "domains": ["www.mysite.example", "mysite.example"], "state": 2,
     "ca": {"url": "https://acme-v02.api.letsencrypt.org/directory"},
     "cert": {"valid": {"from": "Mon, 30 Nov 2026 11:10:55 GMT", "until": "Sun, 28 Feb 2027 11:10:54 GMT"}},
     "renew-at": "Fri, 29 Jan 2027 11:10:54 GMT"},
    {"name": "shop.example", "domains": ["shop.example"], "state": 1, "ca": {"url": "https://ca.example/dir"},
     "renewal": {"last": {"status": 1, "problem": "urn:ietf:params:acme:error:connection",
                          "detail": "connection refused"}}},
]}


def test_status_gives_dates_and_the_last_problem():
    assert certificates.summary(STATUS).splitlines() == [
        "Certificate for www.mysite.example mysite.example: obtained Mon, 30 Nov 2026 11:10:55 GMT, valid until "
        "Sun, 28 Feb 2027 11:10:54 GMT, renewed from Fri, 29 Jan 2027 11:10:54 GMT "
        "(https://acme-v02.api.letsencrypt.org/directory).",
        "Certificate for shop.example: not obtained yet from https://ca.example/dir; until it arrives HTTPS "
        "answers 503 with a temporary certificate.",
        "  last attempt: urn:ietf:params:acme:error:connection connection refused",
    ]
