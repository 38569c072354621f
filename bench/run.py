#!/usr/bin/env python3
"""tollgate benchmarks: one command per scenario, every ratio measured in the same run.

    python3 bench/run.py llm        # LLM chat non-stream: gateway overhead vs direct, fixed rates + saturation
    python3 bench/run.py stream     # SSE passthrough: time-to-first-token overhead, events/s vs direct
    python3 bench/run.py proxy      # plain reverse proxy, same nginx.conf: tollgate vs nginx vs bare pingora vs direct
    python3 bench/run.py instr      # instructions per request (callgrind): nginx, bare pingora, tollgate (nginx.conf, LLM)
    python3 bench/run.py streams    # many concurrent slow streams: gateway RSS per stream
    python3 bench/run.py translated # SSE through OpenAI->Anthropic translation vs passthrough: events/s, CPU per 1k tokens
    python3 bench/run.py quota      # LLM non-stream with quotas in Redis vs in memory
    python3 bench/run.py litellm    # peer: LiteLLM proxy (pip, own venv) vs tollgate on the same mock
    python3 bench/run.py micro      # criterion micro benchmarks (bench/micro)
    python3 bench/run.py all        # every scenario above except litellm and micro

Builds release binaries (cargo build --release), starts everything on loopback (mock upstream,
gateway, nginx), drives load with bench/loadgen (open loop at fixed rates, so latency includes
queueing; closed loop for saturation), and writes bench/results/<date>-<host>-<commit>/ with
results.md (the tables), results.jsonl (every raw measurement) and the exact commands.
Every run is bounded: each load step has a fixed duration and every process is stopped at the end.
"""

import datetime
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
BIN = os.path.join(TARGET, "release")
KEY = "sk-bench"
UPSTREAM_KEY = "sk-upstream-bench"
DURATION = float(os.environ.get("BENCH_DURATION", "10"))
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "500,1000,2000").split(",")]

LOG = []  # (label, command, result)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kw).stdout


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, timeout=15):
    end = time.time() + timeout
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return  # it answered
        except Exception:
            time.sleep(0.05)
    raise SystemExit(f"bench: {url} did not come up")


class Procs:
    """Child processes, all stopped on exit."""

    def __init__(self):
        self.procs = []

    def start(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGINT)
        for p in self.procs:
            try:
                p.wait(timeout=5)
            except subprocess.TimeoutExpired:
                p.kill()
        self.procs = []


def build():
    print("bench: building release binaries ...", file=sys.stderr)
    subprocess.run(["cargo", "build", "--release", "--workspace", "--bins"], cwd=ROOT, check=True)


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    """User + system CPU seconds of a process (and its reaped children) so far."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return 0.0


def loadgen(label, url, body, rate=None, connections=64, duration=DURATION, headers=(), cpu_pids=()):
    """Runs one load step; `cpu_pids` are the processes whose CPU time the step is charged."""
    before = [cpu_s(p) for p in cpu_pids]
    out = _loadgen(label, url, body, rate, connections, duration, headers)
    if cpu_pids:
        used = sum(cpu_s(p) - b for p, b in zip(cpu_pids, before))
        out["cpu_s"] = used
        # The step's 1 s warm-up runs at the same rate and is charged too.
        done = out["rps"] * (duration + 1.0)
        out["cpu_ms_per_1k_req"] = used * 1e6 / done if done else 0
        LOG[-1]["result"] = out
    return out


def _loadgen(label, url, body, rate, connections, duration, headers):
    cmd = [os.path.join(BIN, "tollgate-loadgen"), "--url", url, "--duration", str(duration),
           "--connections", str(connections), "--label", label]
    if body:
        cmd += ["--body", body]
    if rate:
        cmd += ["--rate", str(rate)]
    for h in headers:
        cmd += ["-H", h]
    out = json.loads(sh(cmd))
    LOG.append({"label": label, "command": " ".join(cmd), "result": out})
    print(f"bench: {label}: {out['rps']:.0f} rps, p50 {out['latency_ms']['p50']:.3f} ms, "
          f"p99 {out['latency_ms']['p99']:.3f} ms, errors {out['errors']}", file=sys.stderr)
    return out


def start_upstream(procs, token_interval_ms=0):
    port = free_port()
    procs.start([os.path.join(BIN, "tollgate-mock-provider"), "--listen", f"127.0.0.1:{port}",
                 "--api-key", UPSTREAM_KEY, "--no-validate", "--token-interval-ms", str(token_interval_ms)])
    wait_http(f"http://127.0.0.1:{port}/v1/models")
    return port


def start_gateway(procs, upstream_port, tmp, extra="", kind="openai", name="gateway"):
    """A gateway in front of the mock; `kind: anthropic` reaches it through /v1/messages."""
    port, admin = free_port(), free_port()
    conf = os.path.join(tmp, f"{name}.yaml")
    provider = (f'{{ kind: openai, base_url: "http://127.0.0.1:{upstream_port}/v1", api_key: "{UPSTREAM_KEY}" }}'
                if kind == "openai" else
                f'{{ kind: anthropic, base_url: "http://127.0.0.1:{upstream_port}", api_key: "{UPSTREAM_KEY}" }}')
    with open(conf, "w") as f:
        f.write(f"""listen: ["127.0.0.1:{port}"]
admin: {{ listen: "127.0.0.1:{admin}" }}
server: {{ threads: auto }}
providers:
  up: {provider}
models:
  bench-model: {{ targets: [ {{ provider: up, model: bench-model }} ] }}
keys:
  - {{ name: bench, key: {KEY} }}
{extra}""")
    p = procs.start([os.path.join(BIN, "tollgate"), "-c", conf], env={**os.environ, "RUST_LOG": "warn"})
    wait_http(f"http://127.0.0.1:{admin}/readyz")
    return port, p


def chat_body(tmp, stream, words):
    text = "echo: " + " ".join(f"w{i}" for i in range(words))
    body = {"model": "bench-model", "messages": [{"role": "user", "content": text}],
            "max_tokens": words + 1}
    if stream:
        body["stream"] = True
    path = os.path.join(tmp, f"body-{stream}-{words}.json")
    with open(path, "w") as f:
        json.dump(body, f)
    return path


def auth_headers():
    return [f"Authorization: Bearer {KEY}"]


def direct_headers():
    return [f"Authorization: Bearer {UPSTREAM_KEY}"]


def scenario_llm(tmp, rows):
    procs = Procs()
    try:
        up = start_upstream(procs)
        gw, _ = start_gateway(procs, up, tmp)
        body = chat_body(tmp, False, 16)
        d_url = f"http://127.0.0.1:{up}/v1/chat/completions"
        g_url = f"http://127.0.0.1:{gw}/v1/chat/completions"
        loadgen("warmup", g_url, body, rate=500, duration=2, headers=auth_headers())
        for rate in RATES:
            d = loadgen(f"llm direct {rate}/s", d_url, body, rate=rate, headers=direct_headers())
            g = loadgen(f"llm gateway {rate}/s", g_url, body, rate=rate, headers=auth_headers())
            rows.append(("LLM non-stream", f"fixed {rate}/s", d, g))
        d = loadgen("llm direct saturation", d_url, body, connections=64, headers=direct_headers())
        g = loadgen("llm gateway saturation", g_url, body, connections=64, headers=auth_headers())
        rows.append(("LLM non-stream", "saturation, 64 conns", d, g))
    finally:
        procs.stop_all()


def scenario_stream(tmp, rows):
    procs = Procs()
    try:
        up = start_upstream(procs, token_interval_ms=0)
        gw, _ = start_gateway(procs, up, tmp)
        body = chat_body(tmp, True, 64)
        d_url = f"http://127.0.0.1:{up}/v1/chat/completions"
        g_url = f"http://127.0.0.1:{gw}/v1/chat/completions"
        for rate in [200, 500]:
            d = loadgen(f"stream direct {rate}/s", d_url, body, rate=rate, headers=direct_headers())
            g = loadgen(f"stream gateway {rate}/s", g_url, body, rate=rate, headers=auth_headers())
            rows.append(("SSE 64 events", f"fixed {rate}/s", d, g))
        d = loadgen("stream direct saturation", d_url, body, connections=32, headers=direct_headers())
        g = loadgen("stream gateway saturation", g_url, body, connections=32, headers=auth_headers())
        rows.append(("SSE 64 events", "saturation, 32 conns", d, g))
    finally:
        procs.stop_all()


def proxy_conf(tmp, who, port, up, workers, connections):
    """The plain reverse-proxy nginx.conf both nginx and tollgate serve."""
    return f"""worker_processes {workers};
error_log {tmp}/{who}-error.log;
pid {tmp}/{who}.pid;
events {{ worker_connections {connections}; }}
http {{
  # No access log on either side: the scenario measures proxying (both would otherwise log
  # every request to Debian's default /var/log/nginx/access.log).
  access_log off;
  upstream up {{ server 127.0.0.1:{up}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://up;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }}
  }}
}}
"""


def scenario_proxy(tmp, rows):
    """The same nginx.conf served by nginx (worker_processes = cores) and by tollgate, in front
    of the same upstream, against direct."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    procs = Procs()
    try:
        up = start_upstream(procs)
        ports = {"nginx": free_port(), "tollgate": free_port()}
        pids = {}
        for who, port in ports.items():
            conf = os.path.join(tmp, f"{who}.conf")
            with open(conf, "w") as f:
                f.write(proxy_conf(tmp, who, port, up, os.cpu_count(), 4096))
            if who == "nginx":
                p = procs.start([nginx, "-c", conf, "-p", tmp, "-g", "daemon off;"])
            else:
                p = procs.start([os.path.join(BIN, "tollgate"), "-c", conf, "-p", tmp],
                                env={**os.environ, "RUST_LOG": "warn"})
            wait_http(f"http://127.0.0.1:{port}/v1/models")
            pids[who] = p.pid
        # The smallest pingora proxy (bench/bare): what pingora itself costs per request.
        ports["bare"] = free_port()
        bare = procs.start([os.path.join(BIN, "tollgate-bare-pingora"), f"127.0.0.1:{ports['bare']}",
                            f"127.0.0.1:{up}", str(os.cpu_count())])
        wait_http(f"http://127.0.0.1:{ports['bare']}/v1/models")
        pids["bare"] = bare.pid
        body = chat_body(tmp, False, 16)
        d_url = f"http://127.0.0.1:{up}/v1/chat/completions"
        urls = {w: f"http://127.0.0.1:{p}/v1/chat/completions" for w, p in ports.items()}
        for rate in RATES:
            n = loadgen(f"proxy nginx {rate}/s", urls["nginx"], body, rate=rate,
                        headers=direct_headers(), cpu_pids=[pids["nginx"]] + children(pids["nginx"]))
            t = loadgen(f"proxy tollgate {rate}/s", urls["tollgate"], body, rate=rate,
                        headers=direct_headers(), cpu_pids=[pids["tollgate"]])
            rows.append(("plain proxy (same nginx.conf): tollgate (via) vs nginx (baseline)", f"fixed {rate}/s", n, t))
        d = loadgen("proxy direct saturation", d_url, body, connections=64, headers=direct_headers())
        n = loadgen("proxy nginx saturation", urls["nginx"], body, connections=64, headers=direct_headers(),
                    cpu_pids=[pids["nginx"]] + children(pids["nginx"]))
        t = loadgen("proxy tollgate saturation", urls["tollgate"], body, connections=64, headers=direct_headers(),
                    cpu_pids=[pids["tollgate"]])
        b = loadgen("proxy bare pingora saturation", urls["bare"], body, connections=64, headers=direct_headers(),
                    cpu_pids=[pids["bare"]])
        rows.append(("plain proxy: nginx (via) vs direct (baseline)", "saturation, 64 conns", d, n))
        rows.append(("plain proxy (same nginx.conf): tollgate (via) vs nginx (baseline)", "saturation, 64 conns", n, t))
        rows.append(("plain proxy: bare pingora (via) vs nginx (baseline)", "saturation, 64 conns", n, b))
        rows.append(("plain proxy: tollgate (via) vs bare pingora (baseline)", "saturation, 64 conns", b, t))
    finally:
        procs.stop_all()


INSTR = []  # (who, instructions per request, note)


def callgrind_per_request(tmp, name, cmd, url, headers, body, n=2000):
    """User-space instructions per request of `cmd` under callgrind: 300 warm-up requests,
    counters zeroed, `n` requests at a low fixed rate (8 keep-alive connections), dumped.
    Instruction counts do not depend on what else the machine runs, so they compare
    servers exactly where wall-clock ratios are noisy."""
    valgrind = shutil.which("valgrind")
    out = os.path.join(tmp, f"{name}.cg")
    procs = Procs()
    try:
        p = procs.start([valgrind, "--tool=callgrind", f"--callgrind-out-file={out}"] + cmd)
        wait_http(url.rsplit("/", 2)[0] + "/models", timeout=60)
        _loadgen(f"{name} callgrind warm-up", url, body, 100, 8, 3, headers)
        # A dump zeroes the counters it writes; the first one takes start-up and warm-up
        # away (`callgrind_control -z` leaves a thread that is blocked, e.g. main, uncleared).
        sh(["callgrind_control", "-d", str(p.pid)])
        r = _loadgen(f"{name} callgrind", url, body, 200, 8, n / 200, headers)
        sh(["callgrind_control", "-d", str(p.pid)])
        with open(out + ".2") as f:
            total = next(int(l.split()[1]) for l in f if l.startswith("summary:"))
        done = r["ok"]
        INSTR.append((name, total / done if done else 0, f"{done} requests, {r['errors']} errors"))
    finally:
        procs.stop_all()


def scenario_instr(tmp, rows):
    """Instructions per proxied request (callgrind, user space) for the same request through
    nginx (one worker), the smallest pingora proxy, tollgate serving the nginx.conf, and
    tollgate's LLM gateway (auth, model routing, metrics, usage accounting)."""
    if not shutil.which("valgrind"):
        raise SystemExit("bench: instr needs valgrind (apt-get install valgrind)")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    procs = Procs()
    try:
        up = start_upstream(procs)
        body = chat_body(tmp, False, 16)
        for who in ["nginx", "bare pingora", "tollgate nginx.conf"]:
            port = free_port()
            path = os.path.join(tmp, f"instr-{port}.conf")
            with open(path, "w") as f:
                f.write(proxy_conf(tmp, who.split()[0] + "-instr", port, up, 1, 1024))
            cmd = {"nginx": [nginx, "-c", path, "-p", tmp, "-g", "daemon off; master_process off;"],
                   "bare pingora": [os.path.join(BIN, "tollgate-bare-pingora"), f"127.0.0.1:{port}",
                                    f"127.0.0.1:{up}", "1"],
                   "tollgate nginx.conf": [os.path.join(BIN, "tollgate"), "-c", path, "-p", tmp]}[who]
            callgrind_per_request(tmp, who, cmd, f"http://127.0.0.1:{port}/v1/chat/completions",
                                  direct_headers(), body)
        gw_port, gw = start_gateway(procs, up, tmp, name="instr-gateway")
        gw.send_signal(signal.SIGINT)
        gw.wait(timeout=10)
        callgrind_per_request(tmp, "tollgate LLM gateway",
                              [os.path.join(BIN, "tollgate"), "-c", os.path.join(tmp, "instr-gateway.yaml")],
                              f"http://127.0.0.1:{gw_port}/v1/chat/completions", auth_headers(), body)
    finally:
        procs.stop_all()


def children(pid):
    """nginx's worker processes (their CPU counts for nginx)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []

def scenario_translated(tmp, rows):
    """The same SSE load through an `openai` target (passthrough, re-framed) and through an
    `anthropic` target (Messages stream translated to chat chunks): events/s at saturation,
    TTFT at a fixed rate, and the gateway's CPU per 1,000 streamed tokens (events)."""
    procs = Procs()
    try:
        up = start_upstream(procs, token_interval_ms=0)
        gp, gpp = start_gateway(procs, up, tmp, kind="openai", name="passthrough")
        gt, gtp = start_gateway(procs, up, tmp, kind="anthropic", name="translated")
        body = chat_body(tmp, True, 64)
        p_url = f"http://127.0.0.1:{gp}/v1/chat/completions"
        t_url = f"http://127.0.0.1:{gt}/v1/chat/completions"
        for label, args in [("fixed 300/s", {"rate": 300}), ("saturation, 32 conns", {"connections": 32})]:
            p = loadgen(f"passthrough stream {label}", p_url, body, headers=auth_headers(), cpu_pids=[gpp.pid], **args)
            t = loadgen(f"translated stream {label}", t_url, body, headers=auth_headers(), cpu_pids=[gtp.pid], **args)
            for x in (p, t):
                events = x["events_per_s"] * (DURATION + 1.0)
                x["cpu_ms_per_1k_tokens"] = x["cpu_s"] * 1e6 / events if events else 0
            rows.append((f"SSE 64 events: translated (OpenAI->Anthropic) vs passthrough; CPU/1k tokens "
                         f"{p['cpu_ms_per_1k_tokens']:.1f} -> {t['cpu_ms_per_1k_tokens']:.1f} ms; "
                         f"tokens/s ratio {t['events_per_s'] / max(p['events_per_s'], 1):.2f}", label, p, t))
    finally:
        procs.stop_all()


def start_redis(procs, tmp):
    redis = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    procs.start([redis, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--dir", tmp])
    end = time.time() + 10
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as c:
                c.sendall(b"PING\r\n")
                if c.recv(16).startswith(b"+PONG"):
                    return port
        except OSError:
            time.sleep(0.05)
    raise SystemExit("bench: redis-server did not come up")


QUOTA_LIMITS = """  limits:
    - {{ requests: 100000000, per: minute }}
    - {{ tokens: 100000000000, per: minute }}
    - {{ tokens: 100000000000000, per: month }}
"""


def scenario_quota(tmp, rows):
    """LLM non-stream with three quota limits per key (requests/min, tokens/min, tokens/month),
    counted in memory vs in Redis (one round trip to reserve, one to settle)."""
    procs = Procs()
    try:
        up = start_upstream(procs)
        rp = start_redis(procs, tmp)
        mem, memp = start_gateway(procs, up, tmp, name="quota-memory",
                                  extra="quota:\n  store: memory\n" + QUOTA_LIMITS.format())
        red, redp = start_gateway(procs, up, tmp, name="quota-redis",
                                  extra=f"quota:\n  store: redis\n  url: redis://127.0.0.1:{rp}\n" + QUOTA_LIMITS.format())
        body = chat_body(tmp, False, 16)
        m_url = f"http://127.0.0.1:{mem}/v1/chat/completions"
        r_url = f"http://127.0.0.1:{red}/v1/chat/completions"
        for rate in RATES:
            m = loadgen(f"quota memory {rate}/s", m_url, body, rate=rate, headers=auth_headers(), cpu_pids=[memp.pid])
            r = loadgen(f"quota redis {rate}/s", r_url, body, rate=rate, headers=auth_headers(), cpu_pids=[redp.pid])
            rows.append(("quotas: Redis (via) vs memory (baseline)", f"fixed {rate}/s", m, r))
        m = loadgen("quota memory saturation", m_url, body, connections=64, headers=auth_headers(), cpu_pids=[memp.pid])
        r = loadgen("quota redis saturation", r_url, body, connections=64, headers=auth_headers(), cpu_pids=[redp.pid])
        rows.append(("quotas: Redis (via) vs memory (baseline)", "saturation, 64 conns", m, r))
    finally:
        procs.stop_all()


LITELLM_VERSION = os.environ.get("BENCH_LITELLM_VERSION", "1.79.1")


def litellm_venv():
    venv = os.path.join(os.path.expanduser("~"), ".cache", "tollgate", "bench-litellm-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(os.path.join(venv, "bin", "litellm")):
        print(f"bench: installing litellm[proxy]=={LITELLM_VERSION} into {venv} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", f"litellm[proxy]=={LITELLM_VERSION}"], check=True)
    return os.path.join(venv, "bin", "litellm")


def scenario_litellm(tmp, rows):
    """The peer: LiteLLM's proxy (pip) and tollgate in front of the same mock, same load.
    LiteLLM runs as its docs recommend for production (`--num_workers` = cores)."""
    exe = litellm_venv()
    procs = Procs()
    try:
        up = start_upstream(procs)
        gw, gwp = start_gateway(procs, up, tmp)
        lport = free_port()
        conf = os.path.join(tmp, "litellm.yaml")
        with open(conf, "w") as f:
            f.write(f"""model_list:
  - model_name: bench-model
    litellm_params:
      model: openai/bench-model
      api_base: http://127.0.0.1:{up}/v1
      api_key: {UPSTREAM_KEY}
general_settings:
  master_key: {KEY}
litellm_settings:
  set_verbose: false
  json_logs: false
""")
        lp = procs.start([exe, "--config", conf, "--host", "127.0.0.1", "--port", str(lport),
                          "--num_workers", str(os.cpu_count())],
                         env={**os.environ, "LITELLM_LOG": "ERROR", "DISABLE_ADMIN_UI": "True"})
        wait_http(f"http://127.0.0.1:{lport}/health/liveliness", timeout=120)
        body = chat_body(tmp, False, 16)
        l_url = f"http://127.0.0.1:{lport}/v1/chat/completions"
        g_url = f"http://127.0.0.1:{gw}/v1/chat/completions"
        loadgen("litellm warmup", l_url, body, rate=50, duration=3, headers=auth_headers())
        for rate in [100, 300]:
            l = loadgen(f"litellm {rate}/s", l_url, body, rate=rate, headers=auth_headers())
            g = loadgen(f"tollgate {rate}/s", g_url, body, rate=rate, headers=auth_headers())
            rows.append(("peer: tollgate (via) vs LiteLLM proxy (baseline)", f"fixed {rate}/s", l, g))
        l = loadgen("litellm saturation", l_url, body, connections=64, headers=auth_headers())
        g = loadgen("tollgate saturation", g_url, body, connections=64, headers=auth_headers())
        rows.append(("peer: tollgate (via) vs LiteLLM proxy (baseline)", "saturation, 64 conns", l, g))
    finally:
        procs.stop_all()


def scenario_micro(tmp, rows):
    """criterion micro benchmarks; their table goes in the results as is."""
    env = {**os.environ}
    out = subprocess.run(["cargo", "bench", "-p", "tollgate-micro", "--bench", "micro", "--",
                          "--warm-up-time", "1", "--measurement-time", "3"],
                         cwd=ROOT, check=True, text=True, capture_output=True, env=env).stdout
    lines = []
    name = None
    for line in out.splitlines():
        t = line.strip()
        if t and not t.startswith(("time:", "thrpt:", "change:", "Found", "Benchmarking")) and "outlier" not in t \
                and not t.startswith(("No change", "Performance", "Change within")) and " " not in t:
            name = t
        elif t.startswith(("time:", "thrpt:")) and name:
            lines.append((name, t))
    MICRO.extend(lines)
    LOG.append({"label": "micro", "command": "cargo bench -p tollgate-micro --bench micro", "result": out})


MICRO = []


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def scenario_streams(tmp, rows, n=int(os.environ.get("BENCH_STREAMS", "2000"))):
    procs = Procs()
    try:
        up = start_upstream(procs, token_interval_ms=500)
        gw, gp = start_gateway(procs, up, tmp)
        body = chat_body(tmp, True, 40)
        idle = rss_kib(gp.pid)
        g_url = f"http://127.0.0.1:{gw}/v1/chat/completions"
        cmd = [os.path.join(BIN, "tollgate-loadgen"), "--url", g_url, "--body", body, "--duration", "8",
               "--warmup", "0", "--connections", str(n), "--label", f"{n} slow streams"] + \
              sum((["-H", h] for h in auth_headers()), [])
        lg = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        time.sleep(6)
        busy = rss_kib(gp.pid)
        out = json.loads(lg.communicate(timeout=120)[0])
        LOG.append({"label": f"{n} streams", "command": " ".join(cmd), "result": out,
                    "rss_idle_kib": idle, "rss_busy_kib": busy})
        rows.append(("concurrent slow streams", f"{n} streams", {"rss_idle_kib": idle},
                     {"rss_busy_kib": busy, "per_stream_kib": (busy - idle) / n, "errors": out["errors"]}))
    finally:
        procs.stop_all()


def table(rows):
    out = ["| scenario | load | direct/baseline rps | via rps | ratio | p50 direct | p50 via | p50 overhead | p99 direct | p99 via | p99 overhead | CPU ms/1k req baseline | CPU ms/1k req via |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def cpu(x):
        return f"{x['cpu_ms_per_1k_req']:.0f}" if "cpu_ms_per_1k_req" in x else ""

    for name, load, d, g in rows:
        if "rss_idle_kib" in d:
            out.append(f"| {name} | {load} | idle RSS {d['rss_idle_kib']/1024:.1f} MiB | busy RSS {g['rss_busy_kib']/1024:.1f} MiB "
                       f"| {g['per_stream_kib']:.1f} KiB/stream | errors {g['errors']} | | | | | | | |")
            continue
        dl, gl = d["latency_ms"], g["latency_ms"]
        ratio = g["rps"] / d["rps"] if d["rps"] else 0
        extra = ""
        if g.get("ttft_ms", {}).get("p50"):
            extra = f" (TTFT p99 {d['ttft_ms']['p99']:.3f} → {g['ttft_ms']['p99']:.3f} ms; events/s {d['events_per_s']:.0f} → {g['events_per_s']:.0f})"
        out.append(f"| {name}{extra} | {load} | {d['rps']:.0f} | {g['rps']:.0f} (err {g['errors']}) | {ratio:.2f} "
                   f"| {dl['p50']:.3f} | {gl['p50']:.3f} | {(gl['p50']-dl['p50'])*1000:.0f} us "
                   f"| {dl['p99']:.3f} | {gl['p99']:.3f} | {(gl['p99']-dl['p99'])*1000:.0f} us "
                   f"| {cpu(d)} | {cpu(g)} |")
    return "\n".join(out)


def main():
    which = sys.argv[1:] or ["all"]
    scenarios = {"llm": scenario_llm, "stream": scenario_stream, "proxy": scenario_proxy, "streams": scenario_streams,
                 "translated": scenario_translated, "quota": scenario_quota, "litellm": scenario_litellm,
                 "micro": scenario_micro, "instr": scenario_instr}
    names = [n for n in scenarios if n not in ("litellm", "micro", "instr")] if "all" in which else which
    for n in names:
        if n not in scenarios:
            raise SystemExit(f"bench: unknown scenario {n}; known: {', '.join(scenarios)} all")
    if not os.environ.get("BENCH_NO_BUILD"):
        build()
    rows = []
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        for n in names:
            scenarios[n](tmp, rows)
    commit = sh(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT).strip()
    now = datetime.datetime.now(datetime.timezone.utc)
    host = socket.gethostname()
    outdir = os.path.join(ROOT, "bench", "results", f"{now:%Y-%m-%d}-{host}-{commit}")
    os.makedirs(outdir, exist_ok=True)
    cpu = sh(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]).strip()
    md = [f"# tollgate benchmark {now:%Y-%m-%d %H:%M} UTC", "",
          f"- commit {commit}, host {host}, {os.cpu_count()} cores ({cpu}), load average before {load_before[0]:.2f}",
          f"- command: `python3 bench/run.py {' '.join(which)}` (duration {DURATION}s per step, release build)",
          "- latencies from tollgate-loadgen (open loop: measured from each request's scheduled start)",
          "- everything (upstream mock, gateway or nginx, load generator) shares this machine's cores", "",
          table(rows), ""]
    if INSTR:
        base = dict((w, i) for w, i, _ in INSTR).get("nginx")
        md += ["## Instructions per request (callgrind, user space; same request, same upstream)", "",
               "| server | instructions/request | vs nginx | run |", "|---|---|---|---|"]
        md += [f"| {w} | {i:,.0f} | {i / base:.2f}x | {note} |" if base else f"| {w} | {i:,.0f} | | {note} |"
               for w, i, note in INSTR] + [""]
    if MICRO:
        md += ["## Micro benchmarks (criterion)", "", "| benchmark | result |", "|---|---|"]
        md += [f"| {n} | {t} |" for n, t in MICRO] + [""]
    with open(os.path.join(outdir, "results.md"), "w") as f:
        f.write("\n".join(md))
    with open(os.path.join(outdir, "results.jsonl"), "w") as f:
        for entry in LOG:
            f.write(json.dumps(entry) + "\n")
    print("\n".join(md))
    print(f"bench: results in {os.path.relpath(outdir, ROOT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
