#!/usr/bin/env python3
"""tap-stripe benchmark: tap-stripe vs singer-io tap-stripe 3.3.0 vs Airbyte source-stripe 5.14.1.

Started by bench/run.sh (which builds and installs); see BENCHMARKS.md.
Usage: bench.py [--only TOOL,...] SCENARIO...   (scenarios: a b c d e f m s)
Env: BENCH_A_N .. BENCH_F_N (charges), BENCH_M_CUSTOMERS, BENCH_ANCHORS_C=1 (anchors in c),
     BENCH_S_ACCOUNTS, BENCH_S_SHARDS (s), BENCH_TIMEOUT (seconds per run, default 1800).
"""
import collections
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCH = os.path.join(ROOT, "bench")
# BENCH_TAP: another build of tap-stripe (e.g. a baseline commit's release binary).
TAP = os.environ.get("BENCH_TAP", os.path.join(ROOT, "target/release/tap-stripe"))
FAKE = os.path.join(ROOT, "target/release/fake-stripe")
KEY = "sk_live_bench"
START_DATE = "2015-01-01T00:00:00Z"
CHARGES_PER_CUSTOMER = 25
TIMEOUT = int(os.environ.get("BENCH_TIMEOUT", "1800"))

# prerender: the fake serves list pages from texts rendered at start (same bytes, little CPU, so the fake
# takes less of the cores it shares with the tool), at about 3.5 KB of memory per charge (some 550 MB for
# 100,000 charges with their events): not for (c).
SCENARIOS = {
    "a": dict(title="(a) charges, no latency", n=int(os.environ.get("BENCH_A_N", "100000")), latency=0, rate=None,
              prerender=True),
    "b": dict(title="(b) charges, 150 ms latency, 100 req/s limit", n=int(os.environ.get("BENCH_B_N", "20000")),
              latency=150, rate=100, prerender=True),
    "c": dict(title="(c) memory, charges", n=int(os.environ.get("BENCH_C_N", "1000000")), latency=0, rate=None,
              anchors=os.environ.get("BENCH_ANCHORS_C") == "1", prerender=False),
    "d": dict(title="(d) pipelines into Singer targets, charges, no latency", n=int(os.environ.get("BENCH_D_N", "100000")),
              latency=0, rate=None, prerender=True, pipeline=True),
}
# Stripe's documented read limits (docs.stripe.com/rate-limits), which (b), (e), (f) and (m) give the
# fake: 100 requests/s for a live key in all, 25 requests/s for each endpoint.
STRIPE_GLOBAL = 100
STRIPE_ENDPOINT = 25
# (e), (f) and (m): at Stripe's limits, with Stripe's latency, and a printed lower bound on time.
SCENARIOS["e"] = dict(title="(e) one stream at Stripe's limits: charges, 150 ms latency, 100/s, 25/s per endpoint",
                      n=int(os.environ.get("BENCH_E_N", "20000")), latency=150, rate=STRIPE_GLOBAL, prerender=True,
                      bound=True)
# The pacer's recovery: tap-stripe told ten times Stripe's limits (as a user who set
# max_requests_per_second too high would), so only the 429s can slow it down.
SCENARIOS["f"] = dict(title="(f) an over-asked pacer: tap-stripe told 10x Stripe's limits, charges, 150 ms latency",
                      n=int(os.environ.get("BENCH_F_N", "20000")), latency=150, rate=STRIPE_GLOBAL, prerender=True,
                      bound=True, anchors=False,
                      tap_config={"max_requests_per_second": 10 * STRIPE_GLOBAL,
                                  "max_requests_per_second_per_endpoint": 10 * STRIPE_ENDPOINT})
# A whole account where a child endpoint dominates: one request per customer to each of two child
# endpoints, against a few dozen list pages. Each tool syncs the streams of these it has.
M_CUSTOMERS = int(os.environ.get("BENCH_M_CUSTOMERS", "1000"))
SCENARIOS["m"] = dict(
    title="(m) a whole account at Stripe's limits: 7 streams, children per customer, 150 ms latency",
    n=M_CUSTOMERS * 5, latency=150, rate=STRIPE_GLOBAL, prerender=True, bound=True,
    fake_args=["--customers", str(M_CUSTOMERS), "--charges-per-customer", "5", "--invoices-per-customer", "1",
               "--generic-objects", str(M_CUSTOMERS // 3)],
    streams={
        "tap-stripe": ["charges", "customers", "customer_balance_transactions", "payment_methods", "invoices",
                       "invoice_line_items", "events"],
        # singer-io 3.3.0 has neither customer balance transactions nor payment methods.
        "singer-io": ["charges", "customers", "invoices", "invoice_line_items", "events"],
        "airbyte": ["charges", "customers", "customer_balance_transactions", "payment_methods", "invoices",
                    "invoice_line_items", "events"],
    })
# Shards (`account_shard`): a Connect platform's small connected accounts read by one run, then by
# N shards run at once on this machine, under one limit the fake shares between all of them (it
# counts every request of the key, whatever its Stripe-Account header). tap-stripe only.
S_ACCOUNTS = int(os.environ.get("BENCH_S_ACCOUNTS", "1000"))
S_SHARDS = int(os.environ.get("BENCH_S_SHARDS", "4"))
SCENARIOS["s"] = dict(
    title=f"(s) {S_ACCOUNTS:,} connected accounts: 1 shard against {S_SHARDS} run at once, one shared limit "
          f"({STRIPE_GLOBAL}/s, {STRIPE_ENDPOINT}/s per endpoint), 150 ms latency",
    n=0, latency=150, rate=STRIPE_GLOBAL, prerender=True, shards=S_SHARDS,
    fake_args=["--customers", "20", "--charges-per-customer", "2", "--invoices-per-customer", "0",
               "--connected-accounts", str(S_ACCOUNTS)],
    streams={"tap-stripe": ["charges", "customers"]})
# The Singer targets of (d), each in its own virtualenv (bench/run.sh installs them from the pins of
# tests/meltano): the command and its config.
TARGETS = {
    "target-jsonl": lambda tmp: {"destination_path": os.path.join(tmp, "jsonl"), "do_timestamp_file": False},
    "target-duckdb": lambda tmp: {"filepath": os.path.join(tmp, "warehouse.duckdb"), "default_target_schema": "tap_stripe"},
}


def http(base, path, method="GET"):
    req = urllib.request.Request(base + path, method=method)
    with urllib.request.urlopen(req, timeout=600) as r:
        body = r.read()
    return json.loads(body) if body else None


def start_fake(n, latency, rate, prerender, tmp, fake_args=None):
    customers = max(1, round(n / CHARGES_PER_CUSTOMER))
    dataset = fake_args or ["--customers", str(customers), "--charges-per-customer", str(CHARGES_PER_CUSTOMER),
                            "--invoices-per-customer", "0"]
    args = [FAKE, "--port", "0", "--key", KEY, *dataset, "--latency-ms", str(latency)]
    if rate:
        args += ["--rate-limit", str(rate)]
    if prerender:
        args.append("--prerender")
    log = open(os.path.join(tmp, "fake.log"), "w")
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=log, text=True)
    line = p.stdout.readline()
    m = re.search(r"http://[0-9.]+:\d+", line)
    if not m:
        p.kill()
        raise SystemExit(f"fake did not start: {line!r}")
    return p, m.group(0)


def rss_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1])
    except OSError:
        pass
    return 0


def run_tool(cmd, env, base, tmp, name):
    http(base, "/_fake/requests", "DELETE")
    tfile = os.path.join(tmp, f"{name}.time")
    errf = open(os.path.join(tmp, f"{name}.stderr"), "w")
    t0 = time.monotonic()
    p = subprocess.Popen(["/usr/bin/time", "-v", "-o", tfile] + cmd, stdout=subprocess.PIPE, stderr=errf,
                         env={**os.environ, **env}, cwd=tmp)
    records = 0
    for line in p.stdout:
        if b'"RECORD"' in line[:60]:
            records += 1
    rc = p.wait(timeout=TIMEOUT)
    wall = time.monotonic() - t0
    t = open(tfile).read()

    def field(label):
        m = re.search(re.escape(label) + r":\s*([0-9.]+)", t)
        return float(m.group(1)) if m else float("nan")

    cpu = field("User time (seconds)") + field("System time (seconds)")
    rss_mb = field("Maximum resident set size (kbytes)") / 1024
    log = http(base, "/_fake/requests")
    reqs = [r for r in log if not r["path"].startswith("/_fake")]
    n429 = sum(1 for r in reqs if r.get("status") == 429)
    return dict(tool=name, rc=rc, records=records, requests=len(reqs), r429=n429, wall=wall,
                rps=records / wall if wall else 0, rss=rss_mb, cpu=cpu,
                by_endpoint=collections.Counter(endpoint(r) for r in reqs))


# A Stripe id in a path (cus_3W3xsOTSauX44M, in_1Abc…): a lower-case prefix, then a random tail
# with a capital or a digit ("balance_transactions" is not one).
STRIPE_ID = re.compile(r"^[a-z]+(?:_[a-z]+)*_[A-Za-z0-9]*[A-Z0-9][A-Za-z0-9]*$")


def endpoint(r):
    """The endpoint of a logged request as Stripe's per-endpoint limit counts it: the method and
    the path with ids replaced."""
    return r["method"] + " " + "/".join("{id}" if STRIPE_ID.match(p) else p for p in r["path"].split("/"))


def pages(n):
    """List requests to read n objects, 100 a page (an empty list still takes one)."""
    return max(1, math.ceil(n / 100))


def minimum_requests(base, streams):
    """The fewest requests any connector needs to copy these streams of the fake's account, per
    endpoint, from the fake's own objects: list pages of 100, one request per parent for a child
    endpoint (nothing in a customer tells whether it has balance transactions or payment methods),
    and for invoice lines only the pages past the 10 each invoice embeds."""
    need = collections.Counter()
    objects = lambda resource: http(base, f"/_fake/objects/{resource}")
    tops = {"charges": ("charge", "/v1/charges"), "customers": ("customer", "/v1/customers"),
            "invoices": ("invoice", "/v1/invoices"), "events": ("event", "/v1/events")}
    children = {"customer_balance_transactions": ("customer_balance_transaction", "/v1/customers/{id}/balance_transactions"),
                "payment_methods": ("payment_method", "/v1/customers/{id}/payment_methods")}
    customers = None
    for s in streams:
        if s in tops:
            resource, path = tops[s]
            need["GET " + path] += pages(len(objects(resource)))
        elif s in children:
            resource, path = children[s]
            if customers is None:
                customers = [c["id"] for c in objects("customer")]
            per = collections.Counter(o.get("customer") for o in objects(resource))
            need["GET " + path] += sum(pages(per[c]) for c in customers)
        elif s == "invoice_line_items":
            per = collections.Counter(o.get("invoice") for o in objects("line_item"))
            need["GET /v1/invoices/{id}/lines"] += sum(math.ceil((k - 10) / 100) for k in per.values() if k > 10)
        else:
            raise SystemExit(f"no minimum known for stream {s}")
    return need


def lower_bound(need, global_rate=STRIPE_GLOBAL, endpoint_rate=STRIPE_ENDPOINT):
    """Seconds no connector can beat at Stripe's limits: all requests at the global rate, or the
    busiest endpoint at its own rate, whichever is longer (limiters that start full, latency and
    the opening burst left out)."""
    busiest = max(need.values(), default=0)
    return max(sum(need.values()) / global_rate, busiest / endpoint_rate)


def gnu_time(path):
    """(CPU seconds, peak RSS MB) from a `/usr/bin/time -v` report."""
    t = open(path).read()

    def field(label):
        m = re.search(re.escape(label) + r":\s*([0-9.]+)", t)
        return float(m.group(1)) if m else float("nan")
    return field("User time (seconds)") + field("System time (seconds)"), field("Maximum resident set size (kbytes)") / 1024


def pipeline(tap_cmd, target, tmp):
    """(d) for one target: the tap alone into a file, the target alone from that file, then the tap
    piped into the target. Returns rows of (run, exit codes, wall, tap CPU, target CPU)."""
    tdir = os.path.join(tmp, target)
    os.makedirs(tdir, exist_ok=True)

    def config(run):
        # Each run loads into a fresh destination: loading into tables a run already filled is an
        # upsert, several times slower (target-duckdb: 10x), and would not compare like with like.
        folder = os.path.join(tdir, run)
        os.makedirs(os.path.join(folder, "jsonl"), exist_ok=True)
        path = os.path.join(folder, "target-config.json")
        json.dump(TARGETS[target](folder), open(path, "w"))
        return path
    exe = os.path.join(BENCH, f".venv-{target}", "bin", target)
    out_file = os.path.join(tdir, "tap.out")
    timed = lambda name: ["/usr/bin/time", "-v", "-o", os.path.join(tdir, f"{name}.time")]
    err = lambda name: open(os.path.join(tdir, f"{name}.stderr"), "w")
    rows = []

    t0 = time.monotonic()
    with open(out_file, "wb") as f:
        rc = subprocess.run(timed("tap") + tap_cmd, stdout=f, stderr=err("tap"), cwd=tdir).returncode
    rows.append(("tap-stripe → file", str(rc), time.monotonic() - t0, gnu_time(os.path.join(tdir, "tap.time"))[0], None))

    t0 = time.monotonic()
    with open(out_file, "rb") as f:
        rc = subprocess.run(timed("target") + [exe, "--config", config("alone")], stdin=f, stdout=subprocess.DEVNULL,
                            stderr=err("target"), cwd=tdir).returncode
    rows.append((f"file → {target}", str(rc), time.monotonic() - t0, None, gnu_time(os.path.join(tdir, "target.time"))[0]))

    t0 = time.monotonic()
    tap = subprocess.Popen(timed("piped-tap") + tap_cmd, stdout=subprocess.PIPE, stderr=err("piped-tap"), cwd=tdir)
    tgt = subprocess.Popen(timed("piped-target") + [exe, "--config", config("piped")], stdin=tap.stdout, stdout=subprocess.DEVNULL,
                           stderr=err("piped-target"), cwd=tdir)
    tap.stdout.close()
    rcs = f"{tap.wait(timeout=TIMEOUT)}/{tgt.wait(timeout=TIMEOUT)}"
    rows.append((f"tap-stripe → {target}", rcs, time.monotonic() - t0, gnu_time(os.path.join(tdir, "piped-tap.time"))[0],
                 gnu_time(os.path.join(tdir, "piped-target.time"))[0]))
    return rows


def pipeline_table(sc, records, results):
    print(f"\n### {sc['title']} (N={sc['n']:,}, {records:,} records)\n")
    print("| run | exit | wall s | records/s | tap-stripe CPU s | target CPU s | wall ÷ target alone |")
    print("|---|---|---|---|---|---|---|")
    for target, rows in results:
        alone = rows[1][2]
        for run, rc, wall, tap_cpu, tgt_cpu in rows:
            cell = lambda v: "-" if v is None else f"{v:.2f}"
            print(f"| {run} | {rc} | {wall:.2f} | {records / wall:,.0f} | {cell(tap_cpu)} | {cell(tgt_cpu)} | "
                  f"{wall / alone:.2f} |")
    print(flush=True)


def tap_catalog(cfg, tmp, cmd, name, selected=("charges",)):
    out = subprocess.run(cmd + ["--config", cfg, "--discover"], capture_output=True, text=True, cwd=tmp,
                         env={**os.environ, **ENV_EXTRA})
    if out.returncode != 0:
        raise RuntimeError(f"{name} discover failed: {out.stderr[-2000:]}")
    cat = json.loads(out.stdout)
    streams = []
    for s in cat["streams"]:
        if s["tap_stream_id"] in selected:
            for m in s["metadata"]:
                if m["breadcrumb"] == []:
                    m["metadata"]["selected"] = True
            streams.append(s)
    missing = set(selected) - {s["tap_stream_id"] for s in streams}
    if missing:
        raise RuntimeError(f"{name} has no stream {sorted(missing)}")
    cat["streams"] = streams
    path = os.path.join(tmp, f"{name}-catalog.json")
    json.dump(cat, open(path, "w"))
    return path


ENV_EXTRA = {}


def shard_runs(sc, cfg, base, tmp):
    """(s): the same sync as one process, then as N shards at once (each `account_shard` k/N), with
    the shared limit divided between them (limit ÷ N each), then with each shard told the whole
    limit (what a user who forgot to divide would get). Per shard: its requests and 429s (from its
    own METRIC lines), wall time, peak RSS, CPU and final STATE size; per run: the fake's count."""
    n = sc["shards"]
    cat = tap_catalog(os.path.join(tmp, "config.json"), tmp, [TAP], "tap-stripe", sc["streams"]["tap-stripe"])
    runs = [("1 shard", 1, STRIPE_GLOBAL, STRIPE_ENDPOINT),
            (f"{n} shards at once, limit ÷ {n} each", n, STRIPE_GLOBAL / n, STRIPE_ENDPOINT / n),
            (f"{n} shards at once, whole limit each", n, STRIPE_GLOBAL, STRIPE_ENDPOINT)]
    rows = []
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    for name, shards, rate, per_endpoint in runs:
        time.sleep(2)  # the fake's buckets fill up again
        http(base, "/_fake/requests", "DELETE")
        procs = []
        t0 = time.monotonic()
        for k in range(1, shards + 1):
            c = {**cfg, "connected_accounts": "all", "max_requests_per_second": rate,
                 "max_requests_per_second_per_endpoint": per_endpoint}
            if shards > 1:
                c["account_shard"] = f"{k}/{shards}"
            tag = f"s{shards}-{k}-{rate:g}"
            path = os.path.join(tmp, f"config-{tag}.json")
            json.dump(c, open(path, "w"))
            out = open(os.path.join(tmp, f"{tag}.out"), "wb")
            err = open(os.path.join(tmp, f"{tag}.stderr"), "w")
            cmd = ["/usr/bin/time", "-v", "-o", os.path.join(tmp, f"{tag}.time"), TAP, "--config", path, "--catalog", cat]
            procs.append((k, tag, subprocess.Popen(cmd, stdout=out, stderr=err, cwd=tmp)))
        shard_rows = []
        for k, tag, p in procs:
            rc = p.wait(timeout=TIMEOUT)
            cpu, rss = gnu_time(os.path.join(tmp, f"{tag}.time"))
            # Its own wall time (GNU time's "Elapsed (wall clock) time (h:mm:ss or m:ss): 0:44.81").
            report = open(os.path.join(tmp, f"{tag}.time")).read()
            elapsed = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\):\s*([0-9:.]+)", report)
            wall = sum(float(x) * 60 ** i for i, x in enumerate(reversed(elapsed.group(1).split(":"))))
            records, state = 0, 0
            for line in open(os.path.join(tmp, f"{tag}.out"), "rb"):
                if b'"RECORD"' in line[:60]:
                    records += 1
                elif b'"STATE"' in line[:60]:
                    state = len(line)
            requests = r429 = 0
            for line in open(os.path.join(tmp, f"{tag}.stderr")):
                if "METRIC: " in line and "http_request_duration" in line:
                    requests += 1
                    tags = json.loads(line.split("METRIC: ", 1)[1]).get("tags", {})
                    r429 += tags.get("http_status_code") == 429
            shard_rows.append(dict(shard=k, rc=rc, records=records, requests=requests, r429=r429, wall=wall, rss=rss,
                                   cpu=cpu, state=state))
        total_wall = time.monotonic() - t0
        log = [r for r in http(base, "/_fake/requests") if not r["path"].startswith("/_fake")]
        fake_429 = sum(1 for r in log if r.get("status") == 429)
        rows.append((name, shards, rate, per_endpoint, shard_rows, total_wall, len(log), fake_429))
        print(f"{name}: {total_wall:.1f}s, {len(log):,} requests, {fake_429:,} 429s; load average "
              f"{os.getloadavg()[0]:.2f}", flush=True)
    # The fewest requests: one page of each stream in every account (small data), all to two
    # endpoints at 25/s, the pages of /v1/accounts aside.
    accounts = S_ACCOUNTS + 1
    bound = max(accounts * 2 / STRIPE_GLOBAL, accounts / STRIPE_ENDPOINT)
    print(f"\n### {sc['title']}\n")
    print(f"Streams {', '.join(sc['streams']['tap-stripe'])} in {accounts:,} accounts (the platform's and "
          f"{S_ACCOUNTS:,} connected ones, 4 customers each): at least {accounts:,} requests to each of two "
          f"endpoints, so at least {bound:.0f} s at 25/s per endpoint, however the accounts are split.\n")
    print("| run | shard | exit | records | requests | 429s | wall s | peak RSS MB | CPU s | final STATE KB |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, shards, rate, per_endpoint, shard_rows, total_wall, requests, fake_429 in rows:
        for r in shard_rows:
            label = "all" if shards == 1 else f"{r['shard']}/{shards}"
            print(f"| {name} ({rate:g}/s, {per_endpoint:g}/s per endpoint) | {label} | {r['rc']} | {r['records']:,} | "
                  f"{r['requests']:,} | {r['r429']:,} | {r['wall']:.1f} | {r['rss']:.1f} | {r['cpu']:.2f} | "
                  f"{r['state'] / 1024:.1f} |")
        if shards > 1:
            print(f"| {name}: together | {shards} | | {sum(r['records'] for r in shard_rows):,} | "
                  f"{requests:,} (fake) | {fake_429:,} (fake) | {total_wall:.1f} | "
                  f"{sum(r['rss'] for r in shard_rows):.1f} (sum) | {sum(r['cpu'] for r in shard_rows):.2f} | "
                  f"{sum(r['state'] for r in shard_rows) / 1024:.1f} |")
    one = rows[0]
    print("\n| run | wall ÷ 1 shard | wall ÷ lower bound | requests ÷ 1 shard | 429 share |")
    print("|---|---|---|---|---|")
    for name, shards, rate, per_endpoint, shard_rows, total_wall, requests, fake_429 in rows:
        print(f"| {name} | {total_wall / one[5]:.2f} | {total_wall / bound:.2f} | {requests / one[6]:.2f} | "
              f"{fake_429 / requests if requests else 0:.2%} |")
    print(flush=True)


def scenario(key, tools):
    sc = SCENARIOS[key]
    streams = sc.get("streams", {})
    selected = lambda tool: streams.get(tool, ["charges"])
    tmp = tempfile.mkdtemp(prefix=f"bench-{key}-")
    size = " ".join(sc["fake_args"]) if sc.get("fake_args") else f"N={sc['n']:,} requested charges"
    print(f"\n== {sc['title']}: {size} ==", flush=True)
    t0 = time.monotonic()
    fake, base = start_fake(sc["n"], sc["latency"], sc["rate"], sc["prerender"], tmp, sc.get("fake_args"))
    ENV_EXTRA["BENCH_STRIPE_BASE"] = base
    try:
        print(f"fake at {base} ready in {time.monotonic() - t0:.1f}s, fake RSS {rss_kb(fake.pid) / 1024:.0f} MB",
              flush=True)
        account = http(base, "/_fake/health")["account"]
        cfg = {"client_secret": KEY, "account_id": account, "start_date": START_DATE, "base_url": base}
        if sc["rate"]:
            cfg["max_requests_per_second"] = sc["rate"]
        else:
            # No rate limit in the scenario: the tap need not pace itself at Stripe's 100/s (the
            # anchors do not pace at all).
            cfg["max_requests_per_second"] = 10000
        cfg.update(sc.get("tap_config", {}))
        cfg_path = os.path.join(tmp, "config.json")
        json.dump(cfg, open(cfg_path, "w"))
        singer_cfg = os.path.join(tmp, "singer-config.json")
        json.dump({k: cfg[k] for k in ("client_secret", "account_id", "start_date")}, open(singer_cfg, "w"))
        ab_cfg = os.path.join(tmp, "airbyte-config.json")
        json.dump({k: cfg[k] for k in ("client_secret", "account_id", "start_date")}, open(ab_cfg, "w"))
        ab_cat = os.path.join(tmp, "airbyte-catalog.json")
        json.dump({"streams": [{"stream": {"name": name, "json_schema": {},
                                           "supported_sync_modes": ["full_refresh", "incremental"]},
                                "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}
                               for name in selected("airbyte")]},
                  open(ab_cat, "w"))
        singer_cmd = [os.path.join(BENCH, ".venv-singer/bin/python"), os.path.join(BENCH, "singer_wrapper.py")]
        airbyte_cmd = [os.path.join(BENCH, ".venv-airbyte/bin/python"), os.path.join(BENCH, "airbyte_wrapper.py")]
        results = []
        if sc.get("shards"):
            shard_runs(sc, cfg, base, tmp)
            print(f"\nfake RSS at end {rss_kb(fake.pid) / 1024:.0f} MB; logs in {tmp}")
            return
        if sc.get("pipeline"):
            cat = tap_catalog(cfg_path, tmp, [TAP], "tap-stripe")
            tap_cmd = [TAP, "--config", cfg_path, "--catalog", cat]
            ref = run_tool(tap_cmd, {}, base, tmp, "tap-stripe")
            for target in TARGETS:
                results.append((target, pipeline(tap_cmd, target, tmp)))
                print(f"{target}: " + "; ".join(f"{r[0]} {r[2]:.2f}s" for r in results[-1][1]), flush=True)
            print(f"\nfake RSS at end {rss_kb(fake.pid) / 1024:.0f} MB; logs in {tmp}")
            pipeline_table(sc, ref["records"], results)
            return
        if "tap-stripe" in tools:
            cat = tap_catalog(cfg_path, tmp, [TAP], "tap-stripe", selected("tap-stripe"))
            results.append(run_tool([TAP, "--config", cfg_path, "--catalog", cat], {}, base, tmp, "tap-stripe"))
            print_row(results[-1], None)
        if sc.get("anchors", True):
            if "singer-io" in tools:
                cat = tap_catalog(singer_cfg, tmp, singer_cmd, "singer-io", selected("singer-io"))
                results.append(run_tool(singer_cmd + ["--config", singer_cfg, "--catalog", cat], ENV_EXTRA, base, tmp,
                                        "singer-io 3.3.0"))
                print_row(results[-1], None)
            if "airbyte" in tools:
                results.append(run_tool(airbyte_cmd + ["read", "--config", ab_cfg, "--catalog", ab_cat], ENV_EXTRA,
                                        base, tmp, "airbyte 5.14.1"))
                print_row(results[-1], None)
        print(f"\nfake RSS at end {rss_kb(fake.pid) / 1024:.0f} MB; logs in {tmp}")
        table(sc, results)
        if sc.get("bound"):
            bound_table(sc, base, results, {r["tool"]: selected(r["tool"].split()[0]) for r in results})
    finally:
        fake.terminate()
        fake.wait()


def bound_table(sc, base, results, selected):
    """Each tool's wall time against the lower bound for the streams it synced (tools sync
    different streams in (m): each is measured against its own), the share of 429s, and the
    requests per endpoint against the minimum."""
    print(f"Lower bound at Stripe's limits ({STRIPE_GLOBAL}/s in all, {STRIPE_ENDPOINT}/s per endpoint), from the "
          f"fewest requests the data needs:\n")
    print("| tool | streams | minimum requests | busiest endpoint (minimum) | lower bound s | wall s | wall ÷ bound "
          "| records/s | requests per 1,000 records | 429s | 429 share |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    needs = {}
    for r in results:
        need = needs[r["tool"]] = minimum_requests(base, selected[r["tool"]])
        busiest, most = max(need.items(), key=lambda kv: kv[1])
        bound = lower_bound(need)
        share = r["r429"] / r["requests"] if r["requests"] else 0
        print(f"| {r['tool']} | {len(selected[r['tool']])} | {sum(need.values()):,} | `{busiest}` ({most:,}) | "
              f"{bound:.2f} | {r['wall']:.2f} | {r['wall'] / bound:.2f} | {r['rps']:,.0f} | "
              f"{1000 * r['requests'] / r['records'] if r['records'] else float('nan'):.1f} | {r['r429']:,} | {share:.2%} |")
    print("\nRequests per endpoint (each tool's, then the minimum for tap-stripe's streams):\n")
    ref = next(iter(needs.values()), collections.Counter())
    names = sorted(set(ref) | {e for r in results for e in r["by_endpoint"]})
    print("| endpoint | " + " | ".join(r["tool"] for r in results) + " | minimum |")
    print("|---|" + "---|" * (len(results) + 1))
    for e in names:
        print(f"| `{e}` | " + " | ".join(f"{r['by_endpoint'].get(e, 0):,}" for r in results) + f" | {ref.get(e, 0):,} |")
    print(flush=True)


HDR = f"| {'tool':<16} | {'exit':>4} | {'records':>9} | {'requests':>8} | {'429s':>6} | {'wall s':>8} | " \
      f"{'records/s':>9} | {'peak RSS MB':>11} | {'CPU s':>7} | {'x wall':>7} | {'x rec/s':>7} | {'x RSS':>6} | {'x CPU':>6} |"


def print_row(r, ref):
    print(fmt(r, ref), flush=True)


def fmt(r, ref):
    def ratio(a, b):
        return f"{a / b:.1f}" if b else "-"
    rw = ratio(r["wall"], ref["wall"]) if ref else "-"
    rr = ratio(ref["rps"], r["rps"]) if ref and r["rps"] else "-"
    rm = ratio(r["rss"], ref["rss"]) if ref else "-"
    rc = ratio(r["cpu"], ref["cpu"]) if ref else "-"
    return (f"| {r['tool']:<16} | {r['rc']:>4} | {r['records']:>9,} | {r['requests']:>8,} | {r['r429']:>6,} | "
            f"{r['wall']:>8.2f} | {r['rps']:>9,.0f} | {r['rss']:>11.1f} | {r['cpu']:>7.2f} | {rw:>7} | {rr:>7} | "
            f"{rm:>6} | {rc:>6} |")


def table(sc, results):
    print(f"\n### {sc['title']} (N={sc['n']:,})\n")
    print(HDR)
    print("|" + "|".join("-" * (len(c)) for c in HDR.split("|")[1:-1]) + "|")
    ref = next((r for r in results if r["tool"] == "tap-stripe"), None)
    for r in results:
        print(fmt(r, ref if r is not ref else None))
    print(flush=True)


def main():
    args = sys.argv[1:]
    tools = {"tap-stripe", "singer-io", "airbyte"}
    if args[:1] == ["--only"]:
        tools = set(args[1].split(","))
        args = args[2:]
    # (b) is left out by default: since the fake enforces the per-endpoint limit it is (e)'s setup
    # (without the bound), measured as (e).
    for key in args or ["a", "c", "d", "e", "f", "m"]:
        scenario(key, tools)


if __name__ == "__main__":
    main()
