#!/usr/bin/env python3
"""Instructions per request on the hot path, counted by valgrind's callgrind.

Runs one proxy at a time under `valgrind --tool=callgrind` (counters zeroed
after the warm-up), behind the bench's stack (nginx upstream, e-Signet emulator; see
scripts/bench.py), then: a warm-up, the counters zeroed, N keep-alive requests on one
connection, a dump, and the instructions (Ir) of the proxy process in that
dump divided by N. Instruction counts do not depend on the
machine's load, so they compare runs on a busy machine. Needs the release
binaries (./scripts/bench builds them) and valgrind.

  python3 scripts/profile.py                     # every target, 3,000 requests
  python3 scripts/profile.py --targets gateway-session --requests 1000

Targets: passthrough, passthrough-headers (the pass-through adding the
gateway's upstream headers, as bench row 7), gateway-public,
gateway-session (the header form, RS256), gateway-bearer, gateway-es256,
gateway-session-real-ip (gateway-session with `real_ip_header: true`, the
cost of `X-Real-IP`), gateway-redis (gateway-session with the Redis store,
bench row 5; a local redis-server).
With --cache-sim, callgrind also simulates the caches and the misses per
request are printed next to the instructions (L1 instruction, L1 data read and
write, last level).
The callgrind files stay in the printed directory for callgrind_annotate.
"""

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

TARGETS = ["passthrough", "passthrough-headers", "gateway-public", "gateway-session", "gateway-bearer", "gateway-es256",
           "gateway-session-real-ip", "gateway-redis"]


def requests(url, cookie, n):
    """n GETs on one keep-alive connection; each must answer 200."""
    host, port = url.split("//", 1)[1].split("/", 1)[0].split(":")
    path = "/" + url.split("//", 1)[1].split("/", 1)[1]
    conn = http.client.HTTPConnection(host, int(port), timeout=120)
    headers = {"Cookie": cookie} if cookie else {}
    for _ in range(n):
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{url} answered {r.status}")
    conn.close()


def under_callgrind(out, cache_sim=False):
    sim = ["--cache-sim=yes"] if cache_sim else []
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"] + sim


def control(pid, *args):
    subprocess.run(["callgrind_control", *args, str(pid)], check=True, capture_output=True)


def totals(path):
    """Every event's total in a callgrind dump: {"Ir": …, and with --cache-sim "D1mr": …}."""
    events = None
    for line in Path(path).read_text().splitlines():
        if line.startswith("events:"):
            events = line.split()[1:]
        if line.startswith("summary:") or line.startswith("totals:"):
            return dict(zip(events, map(int, line.split()[1:])))
    raise RuntimeError(f"no totals in {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--targets", default=",".join(TARGETS))
    ap.add_argument("--requests", type=int, default=3000)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--cache-sim", action="store_true",
                    help="also simulate the caches (callgrind --cache-sim=yes): misses per request, L1 and last level")
    args = ap.parse_args()
    bench_args = argparse.Namespace(threads=2, work_stealing=True)
    stack = bench.Stack(bench_args)
    results, misses = {}, {}
    try:
        stack.nginx()
        stack.emulator()
        plain_gw, _ = stack.gateway("gateway-plain")
        for target in args.targets.split(","):
            out = stack.dir / f"callgrind.{target}.out"
            prefix = under_callgrind(out, args.cache_sim)
            cookie = None
            if target.startswith("passthrough"):
                headers = bench.gateway_headers(plain_gw) if target == "passthrough-headers" else ()
                url, proc = passthrough_under(stack, prefix, target, headers)
                url += "/"
            else:
                kw = {"gateway-bearer": {"form": "bearer"}, "gateway-es256": {"signing_key": stack.ec_key()},
                      "gateway-session-real-ip": {"real_ip": True}}.get(target, {})
                if target == "gateway-redis":
                    kw = redis_store(stack)
                url, proc = gateway_under(stack, prefix, target, **kw)
                url = url + ("/public/" if target == "gateway-public" else "/")
                if target != "gateway-public":
                    cookie = bench.login(url)
            requests(url, cookie, args.warmup)
            control(proc.pid, "-z")
            requests(url, cookie, args.requests)
            control(proc.pid, "-d")
            time.sleep(1)
            dumps = sorted(stack.dir.glob(f"callgrind.{target}.out*"))
            counted = [totals(d) for d in dumps if d.stat().st_size and d.suffix == ".1"]
            per_request = {e: sum(c.get(e, 0) for c in counted) / args.requests for e in counted[0]}
            results[target] = per_request["Ir"]
            bench.log(f"{target}: {results[target] / 1000:.1f}k instructions per request ({[d.name for d in dumps]})")
            if args.cache_sim:
                misses[target] = {e: round(v, 1) for e, v in per_request.items() if e.endswith(("mr", "mw"))}
                bench.log(f"{target}: misses per request {misses[target]}")
            proc.stop()
    finally:
        for p in stack.procs:
            p.stop()
    report = {"requests": args.requests, "instructions_per_request": results, "dir": str(stack.dir)}
    if args.cache_sim:
        report["misses_per_request"] = misses
    print(json.dumps(report, indent=2))


def passthrough_under(stack, prefix, name, headers):
    port = bench.free_port()
    extra = [arg for h in headers for arg in ("--set-header", h)]
    p = stack.start(name, prefix + [str(bench.PASSTHROUGH), "--listen", f"127.0.0.1:{port}", "--upstream",
                                     f"127.0.0.1:{stack.nginx_port}", "--threads", "2", "--connect-timeout", "5",
                                     "--read-timeout", "60", "--work-stealing", "true"] + extra)
    bench.wait_port(port, timeout=120)
    return f"http://127.0.0.1:{port}", p


def redis_store(stack):
    """The Redis store of bench row 5, on a fresh local redis-server."""
    port, _ = stack.redis()
    store = {"redis": {"url": {"env": "G2P_BENCH_REDIS_URL"}, "record_keys": [{"file": str(stack.certs / "record.key")}]}}
    return {"store": store, "env": {"G2P_BENCH_REDIS_URL": f"redis://127.0.0.1:{port}/0"}}


def gateway_under(stack, prefix, name, signing_key=None, form=None, real_ip=False, store=None, env=None):
    port = bench.free_port()
    cfg = stack.gateway_config(port, store, signing_key=signing_key, form=form)
    if real_ip:
        cfg["upstreams"]["portal"]["real_ip_header"] = True
    path = stack.dir / f"{name}.yaml"
    path.write_text(json.dumps(cfg))
    p = stack.start(name, prefix + [str(bench.GATEWAY), "run", "--config", str(path), "--upgrade-sock",
                                    str(stack.dir / f"{name}.sock")], env=dict(os.environ, **(env or {})),
                    stdout_pipe=True)
    line = p.first_line(timeout=120)
    admin = re.findall(r"http://[0-9.:]+", line)[1]
    deadline = time.time() + 120
    while bench.http_get(f"{admin}/readyz")[0] != 200:
        if time.time() > deadline:
            raise RuntimeError(f"{name} not ready")
        time.sleep(0.2)
    bench.wait_port(port, timeout=120)
    return f"http://127.0.0.1:{port}", p


if __name__ == "__main__":
    main()
