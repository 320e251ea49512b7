#!/usr/bin/env python3
"""The peer comparison behind ./scripts/bench (see docs/performance.md).

Rows, all behind the same upstream (nginx, a small static body) and the same
identity provider (the project's e-Signet emulator), everything on loopback:

  1 upstream direct             4 gateway, protected route, live session, memory store
  2 plain pingora pass-through  5 gateway, protected route, live session, Redis store
  3 gateway, public route       6 Apache + mod_auth_openidc, live session (server cache)

and a diagnostic row, 7: the pass-through of row 2 adding the very headers the
gateway sends upstream in row 4 (the signed identity, X-Forwarded-*), as
constants, with no other work. Rows 2 to 7 show the cost of carrying the
identity (pingora, the kernel, nginx) and rows 7 to 4 the cost of the
gateway's own work. Row 8 is row 4 with the portal's form of the identity
(`upstreams.<name>.identity: bearer`), row 9 row 4 with an EC P-256 signing
key (ES256), and row 10 the diagnostic row for row 9's headers.

Rounds are interleaved (1..10, 1..10, 1..10) and each figure is the median of
its rounds. wrk runs with -t1 so the load generator and the proxy share the
two cores the same way in every row. CPU per request is the proxy's process
tree utime+stime (from /proc/<pid>/stat, reaped children included) over the
run, divided by the requests wrk completed. Then: the gateway's CPU per login
(and the emulator's, apart), memory per session, and JWKS fetches under a
flood of unknown kids; and the targets, PASS or FAIL.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RELEASE = ROOT / "target" / "release"
GATEWAY = RELEASE / "g2p-gateway"
EMULATOR = RELEASE / "esignet-emulator"
PASSTHROUGH = RELEASE / "examples" / "passthrough"
TOOL = RELEASE / "examples" / "bench_tool"
PACKAGES = ["wrk", "nginx", "apache2", "libapache2-mod-auth-openidc", "redis-server", "openssl"]
CLK_TCK = os.sysconf("SC_CLK_TCK")
BODY = "<!doctype html><title>portal</title><p>Hello from the upstream.</p>\n"
ROWS = {
    1: "upstream direct (nginx)",
    2: "plain pingora pass-through",
    3: "gateway, public route",
    4: "gateway, session, memory store",
    5: "gateway, session, Redis store",
    6: "Apache + mod_auth_openidc, session",
    7: "pass-through + the gateway's upstream headers (diagnostic)",
    8: "gateway, session, bearer form (Authorization: Bearer)",
    9: "gateway, session, ES256 signing key",
    10: "pass-through + the ES256 gateway's upstream headers (diagnostic)",
}
ALL_ROWS = ",".join(str(n) for n in ROWS)

# The headers the gateway adds upstream (row 4), echoed by nginx for row 7.
UPSTREAM_HEADERS = ["X-G2P-Identity", "X-G2P-User-Id", "X-G2P-Reg-Id",
                    "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Real-IP"]
ECHO_PATH = "/_bench/upstream-headers"


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def as_root(cmd):
    return cmd if os.geteuid() == 0 else ["sudo", *cmd]


# ----------------------------------------------------------------- setup


def ensure_packages():
    missing = []
    for pkg in PACKAGES:
        q = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in q.stdout:
            missing.append(pkg)
    if not missing:
        return
    log(f"installing {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = as_root(["apt-get", "install", "-y", "-qq", *missing])
    if subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL).returncode != 0:
        subprocess.run(as_root(["apt-get", "update", "-qq"]), env=env, check=True)
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, check=True)


def build():
    log("building release binaries (cargo build --release --workspace, plus the bench examples)")
    subprocess.run(["cargo", "build", "--release", "--workspace", "--quiet"], cwd=ROOT, check=True)
    subprocess.run(
        ["cargo", "build", "--release", "--quiet", "--example", "passthrough", "--example", "bench_tool"],
        cwd=ROOT,
        check=True,
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def http_get(url, cookie=None, timeout=10):
    """GET without following redirects: (status, body)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None

    req = urllib.request.Request(url, headers={"Accept": "text/html"})
    if cookie:
        req.add_header("Cookie", cookie)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (urllib.error.URLError, OSError):
        return 0, ""


class Proc:
    """A process we started, in its own process group (stopped with it)."""

    def __init__(self, name, cmd, log_dir, env=None, stdout_pipe=False):
        self.name = name
        self.log = open(log_dir / f"{name}.log", "w")
        self.p = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE if stdout_pipe else self.log,
            stderr=self.log,
            env=env,
            start_new_session=True,
            text=True,
        )
        self.pid = self.p.pid

    def first_line(self, timeout=60):
        deadline = time.time() + timeout
        line = self.p.stdout.readline()
        if not line and time.time() > deadline:
            raise RuntimeError(f"{self.name}: no output")
        # Keep draining so the child never blocks on a full pipe.
        import threading

        threading.Thread(target=lambda: shutil.copyfileobj(self.p.stdout, self.log), daemon=True).start()
        return line

    def stop(self):
        if self.p.poll() is None:
            try:
                os.killpg(self.pid, signal.SIGTERM)
                self.p.wait(timeout=5)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(self.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.p.wait()
        self.log.close()


def proc_stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        rest = f.read().rsplit(")", 1)[1].split()
    # rest[0] is field 3 (state): ppid=4, utime=14, stime=15, cutime=16, cstime=17
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def tree_cpu(pid):
    """CPU seconds of pid and its descendants (live ones, plus reaped ones)."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid, own, _ = proc_stat(int(entry))
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append((int(entry), own))
    try:
        _, own, reaped = proc_stat(pid)
    except OSError:
        return 0.0
    total = own + reaped
    stack = [pid]
    while stack:
        for child, child_own in children.get(stack.pop(), []):
            total += child_own
            stack.append(child)
    return total / CLK_TCK


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# ----------------------------------------------------------------- the stack


class Stack:
    def __init__(self, args):
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="g2p-bench-"))
        os.chmod(self.dir, 0o755)
        self.procs = []
        self.certs = ROOT / "certs" / "demo"

    def start(self, name, cmd, **kw):
        p = Proc(name, cmd, self.dir, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in reversed(self.procs):
            p.stop()
        self.procs = []

    # nginx: the upstream of every row
    def nginx(self):
        port = free_port()
        www = self.dir / "www"
        www.mkdir()
        (www / "index.html").write_text(BODY)
        tmp = self.dir / "nginx-tmp"
        tmp.mkdir()
        conf = self.dir / "nginx.conf"
        var = lambda h: "$http_" + h.lower().replace("-", "_")
        echo = "".join(f"{h}: {var(h)}\\n" for h in UPSTREAM_HEADERS)
        conf.write_text(
            f"""
worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  default_type text/html;
  keepalive_requests 10000000;
  keepalive_timeout 120s;
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  open_file_cache max=16;
  server {{
    listen 127.0.0.1:{port} reuseport;
    root {www};
    location / {{ try_files /index.html =404; }}
    location = {ECHO_PATH} {{
      default_type text/plain;
      return 200 "{echo}";
    }}
  }}
}}
"""
        )
        p = self.start("nginx", ["nginx", "-e", str(self.dir / "nginx-error.log"), "-c", str(conf)])
        wait_port(port)
        self.nginx_port, self.nginx_proc = port, p

    def emulator(self):
        port = free_port()
        jwk = json.loads((self.certs / "client.jwk.json").read_text())
        apache_jwk = dict(jwk, kid="bench")
        common = {
            "redirect_uris": ["http://127.0.0.1:*/**"],
            "user_claims": ["name", "email", "phone_number", "birthdate", "gender", "address"],
            "acrs": ["mosip:idp:acr:generated-code", "mosip:idp:acr:biometrics"],
            "require_pkce": False,
        }
        clients = [
            dict(common, client_id="g2p-bench", public_jwk=jwk),
            dict(common, client_id="g2p-bench-apache", public_jwk=apache_jwk),
        ]
        clients_file = self.dir / "clients.json"
        clients_file.write_text(json.dumps(clients))
        p = self.start(
            "emulator",
            [str(EMULATOR), "--listen", f"127.0.0.1:{port}", "--repo-root", str(ROOT), "--clients", str(clients_file)],
            env=dict(os.environ, RUST_LOG="warn"),
        )
        wait_port(port)
        self.emu_url, self.emu_proc = f"http://127.0.0.1:{port}", p

    def passthrough(self, name="passthrough", set_headers=()):
        port = free_port()
        extra = [arg for h in set_headers for arg in ("--set-header", h)]
        p = self.start(
            name,
            [str(PASSTHROUGH), "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{self.nginx_port}", "--threads", str(self.args.threads),
             # the gateway's default upstreams.<name>.connect_timeout / read_timeout
             "--connect-timeout", "5", "--read-timeout", "60"]
            + ["--work-stealing", "true" if self.args.work_stealing else "false"] + extra,
        )
        wait_port(port)
        return f"http://127.0.0.1:{port}", p

    def limits_block(self):
        """The login rate limits off (every login comes from 127.0.0.1), if this build has them."""
        if hasattr(self, "_limits"):
            return self._limits
        self._limits = {}
        for candidate in (
            {"limits": {"login_starts": "off", "callbacks": "off", "pending_logins_per_client": 100000}},
            {"limits": {"login_starts": "off", "callbacks": "off"}},
        ):
            cfg = self.gateway_config(free_port(), extra=candidate)
            path = self.dir / "check.yaml"
            path.write_text(json.dumps(cfg))
            ok = subprocess.run([str(GATEWAY), "check-config", "--config", str(path)], capture_output=True).returncode == 0
            if ok:
                self._limits = candidate
                break
        return self._limits

    def ec_key(self):
        """An EC P-256 signing key made by the gateway's own keygen (row 9)."""
        path = self.dir / "es256-signing.pem"
        if not path.exists():
            subprocess.run([str(GATEWAY), "keygen", "--type", "ec", "--key", str(path)], check=True, capture_output=True)
        return path

    def gateway_config(self, port, store=None, extra=None, signing_key=None, form=None):
        f = lambda name: {"file": str(self.certs / name)}
        cfg = {
            "server": {
                "listen": f"127.0.0.1:{port}",
                "admin_listen": "127.0.0.1:0",
                "public_url": f"http://127.0.0.1:{port}",
                "threads": self.args.threads,
                "work_stealing": self.args.work_stealing,
                "grace_period": "1s",
            },
            "esignet": {
                "client_id": "g2p-bench",
                "discovery_url": f"{self.emu_url}/.well-known/openid-configuration",
                "private_key": f("client.pem"),
                "claims_locales": "en",
            },
            "session": {
                "cookie_keys": [f("cookie.key")],
                "insecure_cookie_without_secure": True,
                "max_sessions": 200000,
            },
            "identity": {
                "signing_keys": [{"file": str(signing_key)} if signing_key else f("gateway-signing.pem")],
                "headers": {"X-G2P-User-Id": "user_id", "X-G2P-Reg-Id": "registrant_id"},
            },
            "upstreams": {"portal": {"url": f"http://127.0.0.1:{self.nginx_port}"}},
            "routes": [
                {"name": "portal", "path": "/", "upstream": "portal", "auth": "login"},
                {"name": "public", "path": "/public", "upstream": "portal", "auth": "public"},
            ],
        }
        if store:
            cfg["session"]["store"] = store
        if form:
            cfg["upstreams"]["portal"]["identity"] = form
        cfg.update(extra if extra is not None else self.limits_block())
        return cfg

    def gateway(self, name, store=None, env=None, signing_key=None, form=None):
        port = free_port()
        cfg = self.gateway_config(port, store, signing_key=signing_key, form=form)
        path = self.dir / f"{name}.yaml"
        path.write_text(json.dumps(cfg))  # JSON is YAML
        p = self.start(
            name,
            [str(GATEWAY), "run", "--config", str(path), "--upgrade-sock", str(self.dir / f"{name}.sock")],
            env=dict(os.environ, **(env or {})),
            stdout_pipe=True,
        )
        line = p.first_line()
        urls = re.findall(r"http://[0-9.:]+", line)
        if len(urls) < 2:
            raise RuntimeError(f"{name}: unexpected first line {line!r}; see {p.log.name}")
        admin = urls[1]
        deadline = time.time() + 60
        while http_get(f"{admin}/readyz")[0] != 200:
            if time.time() > deadline:
                raise RuntimeError(f"{name} not ready; see {self.dir}/{name}.log")
            time.sleep(0.1)
        return urls[0], p

    def redis(self):
        port = free_port()
        p = self.start(
            "redis",
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no"],
        )
        wait_port(port)
        return port, p

    def apache(self):
        port = free_port()
        key = self.dir / "client.pem"
        shutil.copy(self.certs / "client.pem", key)
        cert = self.dir / "client-cert.pem"
        subprocess.run(
            ["openssl", "req", "-new", "-x509", "-key", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=g2p-bench"],
            check=True,
            capture_output=True,
        )
        for f in (key, cert):
            os.chmod(f, 0o644)
        run = self.dir / "apache-run"
        run.mkdir()
        os.chmod(run, 0o777)
        mods = "/usr/lib/apache2/modules"
        conf = self.dir / "apache.conf"
        conf.write_text(
            f"""
ServerRoot /etc/apache2
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {self.dir}/apache.pid
ErrorLog {self.dir}/apache-error.log
LogLevel warn
DefaultRuntimeDir {run}
Mutex file:{run} default
User www-data
Group www-data
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authn_core_module {mods}/mod_authn_core.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule authz_user_module {mods}/mod_authz_user.so
LoadModule proxy_module {mods}/mod_proxy.so
LoadModule proxy_http_module {mods}/mod_proxy_http.so
LoadModule auth_openidc_module {mods}/mod_auth_openidc.so
StartServers 2
ServerLimit 4
ThreadsPerChild 50
MaxRequestWorkers 200
MinSpareThreads 50
MaxSpareThreads 200
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60

OIDCProviderMetadataURL {self.emu_url}/.well-known/openid-configuration
OIDCClientID g2p-bench-apache
OIDCRedirectURI http://127.0.0.1:{port}/redirect_uri
OIDCCryptoPassphrase bench-{os.urandom(8).hex()}
OIDCPrivateKeyFiles bench#{key}
OIDCPublicKeyFiles bench#{cert}
OIDCProviderTokenEndpointAuth private_key_jwt
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCUserInfoSignedResponseAlg RS256
OIDCAuthRequestParams acr_values=mosip%3Aidp%3Aacr%3Agenerated-code&claims_locales=en
OIDCSessionType server-cache
OIDCCacheType shm
OIDCCacheShmMax 5000
OIDCSessionInactivityTimeout 1800
OIDCSessionMaxDuration 28800

ProxyPass /redirect_uri !
ProxyPass / http://127.0.0.1:{self.nginx_port}/
<Location />
  AuthType openid-connect
  Require valid-user
</Location>
"""
        )
        p = self.start("apache", ["apache2", "-D", "FOREGROUND", "-f", str(conf)])
        wait_port(port)
        return f"http://127.0.0.1:{port}", p


# ----------------------------------------------------------------- measuring


def tool(*args, timeout=900):
    out = subprocess.run([str(TOOL), *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"bench_tool {args[0]}: {out.stderr.strip()}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def login(url):
    out = tool("login", "--url", url, "--print-cookie")
    if not out.get("cookie"):
        raise RuntimeError(f"login at {url} left no cookie: {out}")
    return out["cookie"]


def to_ms(value):
    m = re.match(r"([\d.]+)(us|ms|s)", value)
    n, unit = float(m.group(1)), m.group(2)
    return {"us": n / 1000, "ms": n, "s": n * 1000}[unit]


def wrk(url, seconds, connections, cookie=None):
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, check=True).stdout
    res = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": to_ms(re.search(r"\s50%\s+(\S+)", out).group(1)),
        "p99": to_ms(re.search(r"\s99%\s+(\S+)", out).group(1)),
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "errors": 0,
    }
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["errors"] = (int(bad.group(1)) if bad else 0) + (sum(int(x) for x in sock.groups()) if sock else 0)
    return res


def check_ok(url, cookie, what):
    status, body = http_get(url, cookie)
    if status != 200 or body != BODY:
        raise RuntimeError(f"{what}: {url} answered {status} {body[:200]!r}, not the upstream's page")


def machine(args):
    cpu = "unknown"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break

    def version(cmd, pattern=r"(\d+\.\d+(\.\d+)?)"):
        try:
            out = subprocess.run(cmd, capture_output=True, text=True)
            m = re.search(pattern, out.stdout + out.stderr)
            return m.group(1) if m else "?"
        except OSError:
            return "?"

    def pkg(name):
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", name], capture_output=True, text=True).stdout or "?"

    lock = (ROOT / "Cargo.lock").read_text()
    pingora = re.search(r'name = "pingora"\nversion = "([^"]+)"', lock)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "kernel": platform.release(),
        "load_avg_at_start": os.getloadavg(),
        "wrk": version(["wrk", "-v"]),
        "nginx": version(["nginx", "-v"]),
        "apache2": version(["apache2", "-v"]),
        "mod_auth_openidc": pkg("libapache2-mod-auth-openidc"),
        "redis": version(["redis-server", "--version"], r"v=(\S+)"),
        "rustc": version(["rustc", "--version"]),
        "pingora": pingora.group(1) if pingora else "?",
        "wrk_args": f"-t1 -c{args.connections} -d{args.duration}s --latency",
        "rounds": args.rounds,
        "gateway_threads": args.threads,
        "work_stealing": args.work_stealing,
    }


def fmt_table(rows, results):
    r2, r6 = results.get(2), results.get(6)
    lines = [
        "| # | Row | req/s | p50 ms | p99 ms | proxy CPU µs/req | × row 2 | × row 6 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for n in rows:
        r = results.get(n)
        if r is None or r.get("na"):
            reason = r.get("na") if r else "not run"
            lines.append(f"| {n} | {ROWS[n]} | n/a | | | | | ({reason}) |")
            continue
        x2 = f"{r['rps'] / r2['rps']:.2f}" if r2 and not r2.get("na") else ""
        x6 = f"{r['rps'] / r6['rps']:.2f}" if r6 and not r6.get("na") else ""
        lines.append(
            f"| {n} | {ROWS[n]} | {r['rps']:,.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['cpu_us']:.1f} | {x2} | {x6} |"
        )
    return "\n".join(lines)


def median_of(runs):
    keys = ["rps", "p50", "p99", "cpu_us"]
    out = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["errors"] = sum(r["errors"] for r in runs)
    out["runs"] = runs
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke test: 1 round of 4 s runs, fewer logins")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--duration", type=int, help="seconds per wrk run (default 15)")
    ap.add_argument("--connections", type=int, default=50)
    ap.add_argument("--threads", type=int, default=2, help="pingora worker threads (gateway and pass-through)")
    ap.add_argument("--no-work-stealing", dest="work_stealing", action="store_false",
                    help="one runtime per worker thread (server.work_stealing: false) for the gateway and the pass-through; "
                         "default: pingora's work-stealing runtime, the gateway's default")
    ap.add_argument("--rows", default=ALL_ROWS)
    ap.add_argument("--logins", type=int, help="logins driven for the login cost (default 400)")
    ap.add_argument("--skip-install", action="store_true")
    ap.add_argument("--skip-build", action="store_true")
    ap.add_argument("--skip-extras", action="store_true", help="only the request table")
    ap.add_argument("--out", default=str(ROOT / "target" / "bench"))
    ap.add_argument("--no-docs", dest="docs", action="store_false",
                    help="do not write the table into docs/performance.md (a full run does by default)")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.duration = args.duration or (4 if args.quick else 15)
    args.logins = args.logins or (60 if args.quick else 400)
    warmup = 1 if args.quick else 2
    rows = [int(r) for r in args.rows.split(",")]

    if not args.skip_install:
        ensure_packages()
    if not args.skip_build:
        build()
    info = machine(args)
    if info["load_avg_at_start"][0] >= 1:
        log(f"warning: load average {info['load_avg_at_start'][0]:.2f} at start; the machine is busy, numbers are noisy")

    stack = Stack(args)
    # SIGTERM (and Ctrl-C) still stop every process started here.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results, extras, urls = {}, {}, {}
    try:
        log(f"starting nginx, the emulator and the proxies in {stack.dir}")
        stack.nginx()
        stack.emulator()
        targets = {1: (f"http://127.0.0.1:{stack.nginx_port}/", stack.nginx_proc)}
        if 2 in rows:
            url, p = stack.passthrough()
            targets[2] = (url + "/", p)
        gw_url, gw = stack.gateway("gateway-memory")
        targets[3] = (gw_url + "/public/", gw)
        targets[4] = (gw_url + "/", gw)
        if 7 in rows:
            headers7 = gateway_headers(gw_url)
            extras["identity_bytes_rs256"] = identity_bytes(headers7)
            url7, p7 = stack.passthrough("passthrough-headers", headers7)
            targets[7] = (url7 + "/", p7)
        if 8 in rows:
            url8, p8 = stack.gateway("gateway-bearer", form="bearer")
            targets[8] = (url8 + "/", p8)
        if 9 in rows or 10 in rows:
            url9, p9 = stack.gateway("gateway-es256", signing_key=stack.ec_key())
            targets[9] = (url9 + "/", p9)
            headers10 = gateway_headers(url9)
            extras["identity_bytes_es256"] = identity_bytes(headers10)
            if 10 in rows:
                url10, p10 = stack.passthrough("passthrough-es256-headers", headers10)
                targets[10] = (url10 + "/", p10)
        if 5 in rows:
            try:
                rport, _ = stack.redis()
                store = {
                    "redis": {
                        "url": {"env": "G2P_BENCH_REDIS_URL"},
                        "record_keys": [{"file": str(stack.certs / "record.key")}],
                    }
                }
                url5, p5 = stack.gateway("gateway-redis", store, env={"G2P_BENCH_REDIS_URL": f"redis://127.0.0.1:{rport}/0"})
                targets[5] = (url5 + "/", p5)
            except Exception as e:  # noqa: BLE001 - reported as n/a
                results[5] = {"na": f"Redis store not usable: {e}"}
                log(f"row 5 n/a: {e}")
        if 6 in rows:
            try:
                url6, p6 = stack.apache()
                login(url6 + "/")
                targets[6] = (url6 + "/", p6)
            except Exception as e:  # noqa: BLE001 - reported as n/a
                results[6] = {"na": f"Apache + mod_auth_openidc failed: {e}"}
                log(f"row 6 n/a: {e}")

        runs = {n: [] for n in rows}
        for rnd in range(1, args.rounds + 1):
            for n in rows:
                if n not in targets:
                    continue
                url, proc = targets[n]
                session_of = {7: gw_url + "/", 10: targets.get(9, (None,))[0]}
                cookie = login(url) if n in (4, 5, 6, 8, 9) else login(session_of[n]) if n in session_of else None
                check_ok(url, cookie, ROWS[n])
                wrk(url, warmup, args.connections, cookie)
                before = tree_cpu(proc.pid)
                r = wrk(url, args.duration, args.connections, cookie)
                cpu = tree_cpu(proc.pid) - before
                check_ok(url, cookie, ROWS[n])
                r["cpu_us"] = cpu / max(r["requests"], 1) * 1e6
                runs[n].append(r)
                log(f"round {rnd} row {n} ({ROWS[n]}): {r['rps']:,.0f} req/s, p99 {r['p99']:.2f} ms, {r['cpu_us']:.1f} µs CPU/req, errors {r['errors']}")
        for n in rows:
            if runs.get(n):
                results[n] = median_of(runs[n])

        if not args.skip_extras:
            extras["login"] = login_cost(stack, gw_url, gw, args.logins)
            if 6 in targets:
                extras["login_apache"] = login_cost(stack, targets[6][0], targets[6][1], max(args.logins // 2, 20))
            extras["gateway_rss_kib_after_logins"] = rss_kib(gw.pid)
            log("memory per session (bench_tool sessions)")
            extras["memory"] = tool("sessions", "--repo-root", str(ROOT), "--counts", "0,10000,100000")
            log("memory per session with a portal client (bench_tool sessions --portal-client)")
            extras["memory_portal"] = tool("sessions", "--repo-root", str(ROOT), "--counts", "0,10000,100000",
                                           "--portal-client")
    finally:
        stack.stop_all()

    if not args.skip_extras:
        log("JWKS flood (bench_tool jwks-flood)")
        limits = json.dumps(stack.limits_block()) if stack.limits_block() else "{}"
        extras["jwks_flood"] = tool(
            "jwks-flood", "--gateway-bin", str(GATEWAY), "--repo-root", str(ROOT),
            "--seconds", "4" if args.quick else "10", "--interval", "1" if args.quick else "2",
            "--config-extra", limits,
        )
    shutil.rmtree(stack.dir, ignore_errors=True)
    report(info, rows, results, extras, args)


def gateway_headers(gw_url):
    """The headers the gateway adds upstream on a protected route, as `Name: value` lines."""
    status, body = http_get(gw_url + ECHO_PATH, login(gw_url + "/"))
    if status != 200:
        raise RuntimeError(f"{gw_url}{ECHO_PATH} answered {status}")
    lines = [line for line in body.splitlines() if line.split(":", 1)[1].strip()]
    if not any(line.startswith("X-G2P-Identity:") for line in lines):
        raise RuntimeError("the gateway sent no identity upstream")
    return lines


def identity_bytes(lines):
    """Bytes of the signed assertion and of all the headers the gateway adds upstream."""
    assertion = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("X-G2P-Identity:"))
    return {"assertion": len(assertion), "headers": sum(len(line) + 2 for line in lines)}


def login_cost(stack, url, proc, n):
    log(f"login cost: {n} logins through {url}")
    emu_before, before = tree_cpu(stack.emu_proc.pid), tree_cpu(proc.pid)
    out = tool("login", "--url", url + ("" if url.endswith("/") else "/"), "--count", str(n), "--concurrency", "4")
    proxy = tree_cpu(proc.pid) - before
    emu = tree_cpu(stack.emu_proc.pid) - emu_before
    done = max(out["completed"], 1)
    return {
        "logins": out["completed"],
        "failed": out["failed"],
        "logins_per_second": out["logins_per_second"],
        "proxy_cpu_ms_per_login": proxy / done * 1000,
        "idp_cpu_ms_per_login": emu / done * 1000,
        "first_error": out.get("first_error"),
    }


def report(info, rows, results, extras, args):
    ok = lambda b: "PASS" if b else "FAIL"
    have = lambda n: n in results and not results[n].get("na")
    targets = []
    if have(7) and have(4):
        r7, r4 = results[7], results[4]
        targets.append((
            "row 4 ≥ 0.95 × row 7 req/s (the gateway's own work)",
            f"{r4['rps'] / r7['rps']:.3f}×",
            r4["rps"] >= 0.95 * r7["rps"],
        ))
    if have(2) and have(4):
        r2, r4 = results[2], results[4]
        targets.append((
            "row 4 ≥ 0.90 × row 2 req/s, p99 ≤ row 2 p99 + 0.3 ms",
            f"{r4['rps'] / r2['rps']:.3f}×, p99 {r4['p99']:.2f} vs {r2['p99']:.2f} + 0.3 ms",
            r4["rps"] >= 0.90 * r2["rps"] and r4["p99"] <= r2["p99"] + 0.3,
        ))
    if have(10) and have(9):
        targets.append((
            "row 9 (ES256) ≥ 0.95 × row 10 req/s (the gateway's own work)",
            f"{results[9]['rps'] / results[10]['rps']:.3f}×",
            results[9]["rps"] >= 0.95 * results[10]["rps"],
        ))
    if have(4) and have(6):
        r4, r6 = results[4], results[6]
        targets.append((
            "row 4 ≥ 2.5 × row 6 req/s at ≤ 1/3 of its CPU/req",
            f"{r4['rps'] / r6['rps']:.2f}×, CPU {r4['cpu_us'] / r6['cpu_us']:.2f}×",
            r4["rps"] >= 2.5 * r6["rps"] and r4["cpu_us"] <= r6["cpu_us"] / 3,
        ))
    if have(4) and have(5):
        targets.append((
            "row 5 ≥ 0.9 × row 4 req/s",
            f"{results[5]['rps'] / results[4]['rps']:.3f}×",
            results[5]["rps"] >= 0.9 * results[4]["rps"],
        ))
    elif 5 in rows:
        targets.append(("row 5 ≥ 0.9 × row 4 req/s", "n/a (row 5 not measured)", None))
    if "login" in extras:
        lc = extras["login"]["proxy_cpu_ms_per_login"]
        targets.append(("≤ 2 ms gateway CPU per completed login", f"{lc:.2f} ms", lc <= 2.0))
    for key in ("memory", "memory_portal"):
        if key not in extras:
            continue
        mem = extras[key]["rows"]
        first, last = mem[0], mem[-1]
        n = max(last["sessions"] - first["sessions"], 1)
        heap = (last["heap_bytes"] - first["heap_bytes"]) / n
        rss = (last["rss_bytes"] - first["rss_bytes"]) / n
        extras[f"bytes_per_session{key[6:]}"] = {"heap": heap, "rss": rss, "at": last["sessions"]}
        which = "with a portal client (verified claims kept)" if key == "memory_portal" else "no portal client"
        targets.append((f"≤ 1,175 B per idle session at 100k sessions (RSS), {which}",
                        f"{rss:,.0f} B RSS, {heap:,.0f} B heap", rss <= 1175))
    if "jwks_flood" in extras:
        f = extras["jwks_flood"]
        targets.append((
            "≤ 1 JWKS fetch per throttle interval under the flood",
            f"{f['jwks_fetches']} fetches for {f['callbacks']} callbacks in {f['seconds']:.1f} s (interval {f['interval_seconds']} s, allowed {f['allowed']})",
            f["jwks_fetches"] <= f["allowed"],
        ))

    md = []
    md.append(f"- Machine: {info['nproc']} × {info['cpu']}, Linux {info['kernel']}, load average at start {info['load_avg_at_start'][0]:.2f}; "
              f"{info['date']}.")
    md.append(f"- Versions: pingora {info['pingora']}, rustc {info['rustc']}, nginx {info['nginx']}, Apache {info['apache2']}, "
              f"mod_auth_openidc {info['mod_auth_openidc']}, Redis {info['redis']}, wrk {info['wrk']}.")
    md.append(f"- Method: wrk {info['wrk_args']}, {info['rounds']} interleaved round(s), medians; gateway and pass-through with "
              f"{info['gateway_threads']} worker threads, "
              f"{'the work-stealing runtime (the default)' if info.get('work_stealing', True) else 'one runtime per thread (work_stealing: false)'}.")
    md.append("")
    md.append(fmt_table(rows, results))
    errs = {n: r["errors"] for n, r in results.items() if not r.get("na") and r["errors"]}
    if errs:
        md.append(f"\n- wrk errors (non-2xx/3xx or socket): {errs}")
    md.append("")
    for alg in ("rs256", "es256"):
        if f"identity_bytes_{alg}" in extras:
            b = extras[f"identity_bytes_{alg}"]
            md.append(f"- Identity upstream ({alg.upper()}): the assertion {b['assertion']:,} B; all the headers the gateway adds "
                      f"(assertion, X-Forwarded-*) {b['headers']:,} B.")
    if "login" in extras:
        lg = extras["login"]
        md.append(f"- Login cost (gateway, {lg['logins']} logins, 4 at a time): gateway {lg['proxy_cpu_ms_per_login']:.2f} ms CPU/login, "
                  f"emulator (IdP) {lg['idp_cpu_ms_per_login']:.2f} ms CPU/login, {lg['logins_per_second']:.0f} logins/s"
                  + (f", {lg['failed']} failed ({lg['first_error']})" if lg["failed"] else ""))
    if "login_apache" in extras:
        la = extras["login_apache"]
        md.append(f"- Login cost (Apache + mod_auth_openidc, {la['logins']} logins): Apache {la['proxy_cpu_ms_per_login']:.2f} ms CPU/login, "
                  f"emulator {la['idp_cpu_ms_per_login']:.2f} ms, {la['logins_per_second']:.0f} logins/s"
                  + (f", {la['failed']} failed ({la['first_error']})" if la["failed"] else ""))
    if "memory" in extras:
        m = extras["memory"]
        cells = ", ".join(f"{r['sessions']:,}: RSS {r['rss_bytes'] / 2**20:.1f} MiB / heap {r['heap_bytes'] / 2**20:.1f} MiB" for r in m["rows"])
        b = extras["bytes_per_session"]
        md.append(f"- Memory (MemoryStore filled in-process, bench_tool sessions): {cells}; per session {b['rss']:,.0f} B RSS, "
                  f"{b['heap']:,.0f} B heap, of which the Session's own heap data {m['session_heap_bytes']} B and the rest the store's entry "
                  f"(moka) and id; the ID token ({m['id_token_bytes']} B) is {'kept' if m['id_token_kept'] else 'not kept (no end_session_endpoint)'}. "
                  f"Gateway process RSS after the login runs: {extras.get('gateway_rss_kib_after_logins', 0) / 1024:.1f} MiB.")
    if "memory_portal" in extras:
        m = extras["memory_portal"]
        b = extras["bytes_per_session_portal"]
        md.append(f"- Memory with a portal client (`--portal-client`: e-Signet's verified claims kept for the provider's userinfo): "
                  f"per session {b['rss']:,.0f} B RSS, {b['heap']:,.0f} B heap, the Session's own heap data "
                  f"{m['session_heap_bytes']} B, of which the verified claims {m['verified_heap_bytes']} B "
                  f"({m['verified_json_bytes']} B as JSON).")
    if "jwks_flood" in extras:
        f = extras["jwks_flood"]
        md.append(f"- JWKS flood: {f['callbacks']} callbacks with unknown-kid ID tokens in {f['seconds']:.1f} s "
                  f"({f['sessions_created']} sessions created), {f['jwks_fetches']} JWKS fetches reached the provider "
                  f"(gateway metric: {f['jwks_refreshes_metric']:.0f}), throttle interval {f['interval_seconds']} s.")
    md.append("")
    md.append("| Target | Measured | |")
    md.append("|---|---|---|")
    for name, measured, passed in targets:
        md.append(f"| {name} | {measured} | {'n/a' if passed is None else ok(passed)} |")
    text = "\n".join(md)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.md").write_text(text + "\n")
    (out / "latest.json").write_text(json.dumps({"machine": info, "results": {str(k): v for k, v in results.items()}, "extras": extras,
                                                 "targets": [{"target": t, "measured": m, "pass": p} for t, m, p in targets]}, indent=2))
    log(f"written to {out}/latest.md and latest.json")
    full = not args.quick and args.rows == ALL_ROWS and not args.skip_extras
    if args.docs and full:
        write_docs(text)
        log(f"written to {DOCS_PAGE.relative_to(ROOT)} (between the bench markers)")


DOCS_PAGE = ROOT / "docs" / "performance.md"
DOCS_BEGIN, DOCS_END = "<!-- bench:begin -->", "<!-- bench:end -->"


def write_docs(text):
    """Replaces the block between the bench markers of docs/performance.md with `text`,
    so the published table is always one this script printed, never a pasted one."""
    page = DOCS_PAGE.read_text()
    begin, end = page.index(DOCS_BEGIN), page.index(DOCS_END)
    DOCS_PAGE.write_text(page[:begin + len(DOCS_BEGIN)] + "\n" + text.strip("\n") + "\n" + page[end:])


if __name__ == "__main__":
    main()
