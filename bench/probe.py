#!/usr/bin/env python3
"""Timing and memory probes for bench/verify.sh (Python's standard library
only, so that nothing beyond python3 is needed).

    probe.py cold-start RUNS PORT BIN ARG...
        Starts `BIN ARG...` RUNS times and prints, in milliseconds, the
        time from exec to the first 200 answer of GET /health on PORT:
        "min median p90". Each run is stopped (SIGTERM) before the next.

    probe.py sign-in BASE PASSWORD COUNT PID
        Signs in COUNT times through the login form at BASE (a fresh
        cookie jar each time, as a new browser would) and prints the
        resident memory of PID in KiB after the first sign-in and after the
        last: "after_one after_count". Exits non-zero if a sign-in fails.

    probe.py dashboard BASE PASSWORD
        Signs in and opens the dashboard, as an owner's browser does (for
        bench/symbol_order.sh). Exits non-zero unless it is shown.
"""

import http.cookiejar
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request


def health_ok(port):
    """One GET /health over a fresh connection: True on a 200 answer."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def cold_start(runs, port, argv):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = start + 10
        while not health_ok(port):
            if proc.poll() is not None or time.perf_counter() > deadline:
                proc.kill()
                sys.exit(f"{argv[0]} did not answer /health on port {port}")
            # A short pause, not a busy loop: on two cores, polling flat out
            # would take a core from the server it is timing.
            time.sleep(0.0002)
        times.append((time.perf_counter() - start) * 1000)
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"{times[0]:.1f} {statistics.median(times):.1f} {p90:.1f}")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def sign_in_once(base, password):
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
    page = opener.open(base + "login").read().decode()
    form = re.search(r'<form[^>]*id="login".*?</form>', page, re.S)
    if not form:
        raise SystemExit("no login form on the login page")
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form.group(0)))
    fields["password"] = password
    req = urllib.request.Request(
        base + "login",
        data=urllib.parse.urlencode(fields).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        opener.open(req)
        status = 200
    except urllib.error.HTTPError as e:
        status = e.code
    if status != 303:
        raise SystemExit(f"sign-in answered {status}, not 303")
    return opener


def sign_in(base, password, count, pid):
    sign_in_once(base, password)
    time.sleep(0.5)
    after_one = rss_kib(pid)
    for _ in range(count - 1):
        sign_in_once(base, password)
    time.sleep(0.5)
    print(f"{after_one} {rss_kib(pid)}")


def dashboard(base, password):
    """Signs in, then opens the dashboard as the browser would next."""
    opener = sign_in_once(base, password)
    page = opener.open(base + "dashboard")
    if page.status != 200 or 'id="apps"' not in page.read().decode():
        raise SystemExit(f"the dashboard answered {page.status}, or without its apps")


if __name__ == "__main__":
    if len(sys.argv) >= 5 and sys.argv[1] == "cold-start":
        cold_start(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:])
    elif len(sys.argv) == 6 and sys.argv[1] == "sign-in":
        sign_in(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    elif len(sys.argv) == 4 and sys.argv[1] == "dashboard":
        dashboard(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
