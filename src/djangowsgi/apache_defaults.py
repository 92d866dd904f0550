"""The apache part's defaults and the patterns its values must match, each
with the reason for it (apache_site.py reads the options with them)."""

# mod_wsgi-express's values, written out so that a reader of vhost.conf sees them.
DAEMON_TIMEOUTS = (
    ("queue-timeout", 45),
    ("socket-timeout", 60),
    ("connect-timeout", 15),
    ("request-timeout", 60),
    ("startup-timeout", 15),
    ("deadlock-timeout", 60),
    ("graceful-timeout", 15),
    ("shutdown-timeout", 5),
)
# Off unless set (0 is mod_wsgi's "never").
DAEMON_LIMITS = ("inactivity-timeout", "maximum-requests")
# A daemon process a CPU (at least 2, so that reload always leaves one answering:
# apache_site.py).
# Its threads, by what the site's views do (bench/tuning.py, docs/benchmarks.rst,
# 2 CPUs, six rounds): a view waiting on a database or a service wants threads
# to wait in (2 x 10 answered a page waiting 5 ms 1.27x faster than 2 x 3),
# a view that computes wants few, as they share one GIL (2 x 10 answered the
# CPU-bound page at 0.91x of 2 x 3, with a p99 of 90 ms against 60).
MIN_PROCESSES = 2
WORKLOAD_THREADS = {"io": 10, "cpu": 3}
# combined, then the response time in microseconds and the mod_wsgi process group
# that answered ("-" for files Apache served itself).
LOG_FORMAT = '%h %l %u %t "%r" %>s %O "%{Referer}i" "%{User-Agent}i" %D %{DJANGOWSGI_GROUP}e'
LOG_LEVELS = ("emerg", "alert", "crit", "error", "warn", "notice", "info", "debug") + tuple(
    f"trace{i}" for i in range(1, 9)
)
HOSTNAME = r"(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*"
ACCOUNT = r"[A-Za-z_][A-Za-z0-9_.-]*"
PLAIN = r"[A-Za-z0-9_.%{}:@+()~-]+"
GROUP = r"[A-Za-z0-9_.-]+"
# mod_wsgi cuts a daemon's display name to the length of Apache's argv[0]:
# /usr/sbin/apache2 under Debian's apache2ctl, and for bin/<part>.
DISPLAY_LIMIT = len("/usr/sbin/apache2")
# The socket prefix for the system Apache: the same for every site (its run directory).
SYSTEM_SOCKET_PREFIX = "${APACHE_RUN_DIR}/wsgi"

# Slow clients (docs/serving.rst, "Slow clients and floods"): a client has 10 s to start
# its headers and 20 s for all of them, and must keep sending 500 bytes/s to get
# more; the same for a body. Measured: 500 connections trickling headers made
# the server unreachable without it, and 1500 could not with it.
REQUEST_READ_TIMEOUT = "header=10-20,MinRate=500 body=20,MinRate=500"
READ_TIMEOUT_STAGE = r"(header|body|handshake)=\d+(-\d+)?(,MinRate=\d+)?"
# Apache's workers are threads that mostly wait (on the network, or for a daemon
# to take the request): all started at once, so that a flood does not wait for
# new processes. A request waiting for a daemon holds a worker, and an event MPM
# process whose workers are all busy closes its idle keep-alive connections,
# failing the request a client sends on one meanwhile. Measured with 2000
# clients on 2 CPUs (bench/tuning.py, docs/benchmarks.rst, six rounds): 16
# processes of 64 threads failed 38% of requests (median), 8 of 320 0.5%, 4 of
# 640 none (0.38% in one round). Hence more
# workers than clients, in few large processes, which even out how many
# connections each one holds. The price: Apache calls times() once a request,
# and Linux counts every thread of the process for it (371 us of Apache's CPU a
# request with 64 threads, 649 with 640); worker-threads lowers it where no
# flood reaches Apache (behind a balancer).
DEFAULT_WORKERS = 2560
DEFAULT_WORKER_THREADS = 640
# Behind a balancer on the same host (balancer), which holds the clients and
# queues requests for Apache (server-maxconn, below these workers): the shapes
# cheapest there (bench/front.py, docs/benchmarks.rst "The front door: behind
# the balancer", two runs on 2 CPUs). Embedded mode, 2 processes of 8 threads, was the fastest
# on the page waiting 5 ms and 1.06-1.10x the defaults on the CPU-bound page;
# its cost, a reload that is a graceful restart, is gone there (the standby
# takes the traffic). A site that gives a daemon option keeps daemon mode,
# with 2 x 32 workers in front of the daemons.
BALANCED_MODE = "embedded"
BALANCED_WORKERS = {"embedded": 16, "daemon": 64}
# bin/<part> status asks mod_status on a loopback port of its own: the site's
# port + 10000 (8000 -> 18000) unless status-listen says otherwise.
STATUS_PORT_OFFSET = 10000
LIMIT_REQUEST_BODY_MAX = 2 ** 31 - 1  # Apache's ceiling for LimitRequestBody

# https = acme (docs/https.rst): mod_md obtains and renews the certificate.
LETS_ENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"
LETS_ENCRYPT_TERMS = "Let's Encrypt's terms (https://letsencrypt.org/repository/)"
ACME_OPTIONS = ("acme-email", "acme-agreement", "acme-ca", "acme-ca-root", "acme-challenge", "acme-renew-window")
HSTS_MAX_AGE = 63072000  # two years, Mozilla's recommendation; the default for https = acme
# Mozilla's server-side TLS profiles (version 5.7): "intermediate" for clients of
# the last years, "modern" for TLS 1.3 clients alone.
TLS_PROFILES = {
    "intermediate": dict(
        protocols="-all +TLSv1.2 +TLSv1.3",
        ciphers="ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
                "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305"),
    "modern": dict(protocols="-all +TLSv1.3", ciphers=None),
}
