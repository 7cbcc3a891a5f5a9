"""Container health check for the web service: exit 0 when GET /healthz/ answers 200.

    python scripts/healthcheck.py [URL]      # default http://127.0.0.1:8000/healthz/

Runs inside the container, next to gunicorn, without importing Django. Production settings
redirect plain HTTP to HTTPS and reject unknown hosts, so the request says what the TLS proxy
in front would say: the first DJANGO_ALLOWED_HOSTS entry as Host, and X-Forwarded-Proto https.
"""

import os
import sys
import urllib.error
import urllib.request

DEFAULT_URL = "http://127.0.0.1:8000/healthz/"


def host_header() -> str:
    hosts = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = hosts[0] if hosts else "localhost"
    if host == "*":
        return "localhost"
    return host.lstrip(".")  # ".example.com" allows example.com and its subdomains


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else DEFAULT_URL
    if not url.startswith(("http://", "https://")):
        print(f"unhealthy: not an HTTP URL: {url}", file=sys.stderr)
        return 1
    headers = {"Host": host_header(), "X-Forwarded-Proto": "https"}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 — scheme checked above
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 — scheme checked above
            status = response.status
    except (urllib.error.URLError, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: HTTP {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
