#!/usr/bin/python3
"""deploy/ kept consistent with the code, without docker or systemd running.

* docker-compose.yml, prometheus.yml, alerts.yml, alerts_test.yml parse;
* every fxpipe command line (compose services and systemd ExecStart, shell
  wrappers included) uses only options its `fxpipe <cmd> --help` lists, each
  with a value when it takes one; compose and systemd run the same options
  with the same values (service names <-> 127.0.0.1);
* every --health port is the port of the service's healthcheck URL and of
  its Prometheus scrape target; every service has a healthcheck; every
  depends_on waits for service_healthy of a service with a healthcheck, and
  every bus or store host a command names is such a dependency;
* journals and dead-letter files are on named volumes (compose) and in the
  StateDirectory, writable under ProtectSystem=strict (systemd); stop
  timeouts exceed the stop deadlines;
* prometheus.yml scrapes only services that exist; the alerts use metric
  names the code registers; promtool check config / check rules / test rules;
* systemd-analyze verify of every unit, where any warning (an unknown
  directive, a bad value) fails; the directives the services need;
* deploy/fxpipe.conf loads with `fxpipe config --config` and agrees with the
  flags; the Dockerfile installs the -dev packages of scripts/deps.sh and
  the packages of every shared library the binary needs.

usage: test_deploy.py FXPIPE     (env FXP_SOURCE_DIR = the repository root)
"""
import configparser
import glob
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:
    print("FAIL - python3 yaml module missing (Debian: python3-yaml, "
          "which scripts/deps.sh should install)")
    sys.exit(1)

FX = os.path.abspath(sys.argv[1])
SRC = os.path.abspath(os.environ.get(
    "FXP_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
DEPLOY = os.path.join(SRC, "deploy")
UNITS = os.path.join(DEPLOY, "systemd")
# FXP_PROMTOOL=PATH picks another promtool ("" or a missing path: none).
PROMTOOL = os.environ.get("FXP_PROMTOOL",
                          shutil.which("promtool") or "/usr/bin/promtool")
PROMTOOL = PROMTOOL if PROMTOOL and os.access(PROMTOOL, os.X_OK) else None
FAILS = 0

# Where each fxpipe service's commands and its units find their servers:
# URL scheme -> systemd unit of the server on a Debian host.
SERVER_UNITS = {"nats": "nats-server.service", "kafka": None,
                "clickhouse": "clickhouse-server.service",
                "postgresql": "postgresql.service",
                "postgres": "postgresql.service"}
LOOPBACK = {"127.0.0.1", "localhost", "0.0.0.0"}
DEFAULT_STOP_DEADLINE_S = 30
ATTEMPT_S = 5  # an attempt in progress at the deadline (connect/flush timeout)


def check(name, cond, detail=""):
    global FAILS
    if cond:
        print(f"ok - {name}")
    else:
        FAILS += 1
        print(f"FAIL - {name}" + (f": {detail}" if detail else ""))
    return cond


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_yaml(rel):
    path = os.path.join(DEPLOY, rel)
    try:
        doc = yaml.safe_load(read(path))
        check(f"{rel} parses as YAML", isinstance(doc, dict),
              "not a mapping")
        return doc if isinstance(doc, dict) else {}
    except (OSError, yaml.YAMLError) as e:
        check(f"{rel} parses as YAML", False, str(e).replace("\n", " "))
        return {}


# --- fxpipe <cmd> --help -------------------------------------------------

_HELP = {}
OPT_RE = re.compile(r"(?<![\w-])(--[a-z][a-z0-9-]*|-[a-zA-Z])(?![\w-])")
META_RE = re.compile(r"[ =]([A-Z][A-Z0-9_]*(?:[|=][A-Za-z0-9_]+)*)(?![\w])")


def help_options(cmd):
    """{option: True (takes a value) | False (a flag) | None (only named in
    prose)} from `fxpipe CMD --help`; short options map like their long."""
    if cmd in _HELP:
        return _HELP[cmd]
    r = subprocess.run([FX, cmd, "--help"], capture_output=True, text=True)
    text = r.stdout
    opts, short = {}, {}
    for line in text.splitlines():
        m = re.match(r"\s+-([a-zA-Z]), (--[a-z][a-z0-9-]*)", line)
        if m:
            short["-" + m.group(1)] = m.group(2)
        # an option's own line starts it in the first columns; later
        # mentions (continuations, prose) only name it
        defining = re.match(r"\s{1,8}(?:-[a-zA-Z], )?--", line) is not None
        for i, o in enumerate(OPT_RE.finditer(line)):
            name = o.group(1)
            meta = META_RE.match(line, o.end())
            if meta:
                opts[name] = True
            elif defining and i == 0 and opts.get(name) is None:
                opts[name] = False
            else:
                opts.setdefault(name, None)
    for s, lng in short.items():
        opts[s] = opts.get(lng)
    _HELP[cmd] = (r.returncode, opts, short)
    return _HELP[cmd]


def parse_args(cmd, args):
    """Walks ARGS as getopt would. Returns ([(long option, value|None)],
    problems)."""
    rc, opts, short = help_options(cmd)
    if rc != 0 or not opts:
        return [], [f"`fxpipe {cmd} --help` failed (exit {rc})"]
    pairs, problems, i = [], [], 0
    while i < len(args):
        a = args[i]
        i += 1
        if not a.startswith("-") or a == "-":
            problems.append(f"unexpected argument {a!r}")
            continue
        name, inline = (a.split("=", 1) + [None])[:2] if a.startswith("--") \
            else (a, None)
        if name not in opts:
            problems.append(f"{name} is not in `fxpipe {cmd} --help`")
            continue
        arity = opts[name]
        if inline is not None:
            if arity is False:
                problems.append(f"{name} takes no value")
            pairs.append((name, inline))
        elif arity is True or (arity is None and i < len(args)
                               and not args[i].startswith("-")):
            if i >= len(args):
                problems.append(f"{name} needs a value")
                pairs.append((name, None))
            else:
                pairs.append((name, args[i]))
                i += 1
        else:
            pairs.append((name, None))
    return [(short.get(n, n), v) for n, v in pairs], problems


def values(pairs, opt):
    return [v for n, v in pairs if n == opt]


def one(pairs, opt):
    v = values(pairs, opt)
    return v[-1] if v else None


# --- command lines, also inside `sh -c` -----------------------------------

def sep(word):
    """A shell control operator (; & && | || ( ) < >)."""
    return bool(word) and set(word) <= set(";&|()<>")


def fxpipe_invocations(argv, binary_names):
    """[(subcommand, args)] of every fxpipe run by ARGV: ARGV itself, or the
    lines of a `sh -c SCRIPT`."""
    if not argv:
        return []
    if os.path.basename(argv[0]) in binary_names:
        return [(argv[1] if len(argv) > 1 else "", list(argv[2:]))]
    if os.path.basename(argv[0]) in ("sh", "bash", "dash") and "-c" in argv:
        script = argv[argv.index("-c") + 1]
        out = []
        for line in script.replace("\\\n", " ").splitlines():
            lex = shlex.shlex(line, posix=True, punctuation_chars=";&|()<>")
            lex.whitespace_split = True
            try:
                toks = list(lex)
            except ValueError as e:
                out.append(("", [f"<unparsable shell line: {e}>"]))
                continue
            at_cmd = True  # the next word is in command position
            for k, t in enumerate(toks):
                if sep(t):
                    at_cmd = True
                    continue
                if not at_cmd:
                    continue
                if t in ("exec", "env", "nice", "then", "do", "else") or \
                        re.match(r"\w+=", t):
                    continue
                at_cmd = False
                if os.path.basename(t) in binary_names and k + 1 < len(toks):
                    args = []
                    for u in toks[k + 2:]:
                        if sep(u):
                            break
                        args.append(u)
                    out.append((toks[k + 1], args))
        return out
    return []


def interpolate(s):
    """docker compose interpolation with the defaults: $$ -> $,
    ${VAR:-default} -> default, ${VAR} and $VAR -> ''."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        if m.group(2) is not None:
            return m.group(2)
        return ""
    return re.sub(r"\$\$|\$\{(\w+)(?::?-([^}]*))?\}|\$(\w+)", sub, s)


def url_hosts(value):
    """[(scheme, host, port)] of the URLs in VALUE (scheme://[u[:p]@]h:p,...)."""
    out = []
    m = re.match(r"([a-z]+)://(?:[^@/]*@)?([^/?]*)", value or "")
    if not m:
        return out
    for hp in m.group(2).split(","):
        host, _, port = hp.rpartition(":")
        out.append((m.group(1), host or hp, port))
    return out


def normalise(value, hosts):
    """Replaces every host that is a compose service or a loopback address
    with HOST, so compose and systemd command lines compare equal."""
    def sub(m):
        return m.group(1) + ("HOST" if m.group(2) in hosts | LOOPBACK
                             else m.group(2))
    return re.sub(r"(^|//|@|,)([A-Za-z0-9_.-]+)(?=:\d)", sub, value or "")


def duration_s(v):
    if isinstance(v, (int, float)):
        return float(v)
    total, ok = 0.0, False
    for n, u in re.findall(r"(\d+(?:\.\d+)?)\s*(ms|us|min|sec|h|m|s)?", str(v)):
        ok = True
        total += float(n) * {"h": 3600, "m": 60, "min": 60, "s": 1, "sec": 1,
                             "ms": 1e-3, "us": 1e-6, None: 1, "": 1}[u]
    return total if ok else None


def inside(path, root, strictly=False):
    path, root = os.path.normpath(path), os.path.normpath(root)
    if path == root:
        return not strictly
    return path.startswith(root.rstrip("/") + "/")


# --- the Dockerfile --------------------------------------------------------

def dockerfile_checks():
    text = read(os.path.join(DEPLOY, "Dockerfile"))
    froms = re.findall(r"^FROM\s+(\S+)", text, re.M)
    check("Dockerfile: every stage is Debian 12",
          froms and all(re.match(r"debian:(12|bookworm)\b", f) for f in froms),
          f"FROM {froms}")
    runtime = text[text.rfind("\nFROM "):]
    deps = read(os.path.join(SRC, "scripts", "deps.sh"))
    m = re.search(r"PKGS=\((.*?)\)", deps, re.S)
    pkgs = m.group(1).split() if m else []
    # libclang-rt-dev: the sanitizer and fuzzer runtimes of the clang build
    # (make test-fuzz), not linked into fxpipe
    dev = [p for p in pkgs if p.endswith("-dev") and p != "libclang-rt-dev"]
    words = set(re.findall(r"[A-Za-z0-9.+_-]+", text))
    missing = [p for p in dev if p not in words]
    check("Dockerfile installs every -dev package of scripts/deps.sh",
          dev and not missing, f"missing {missing}" if dev else "no PKGS")
    for sub in re.findall(r"add_subdirectory\((\w+)\)",
                          read(os.path.join(SRC, "CMakeLists.txt"))):
        check(f"Dockerfile copies {sub}/ (CMakeLists.txt adds it)",
              re.search(rf"^COPY\s+{sub}\s", text, re.M) is not None)
    for d in re.findall(r"^COPY\s+(?!--)(\S+)\s", text, re.M):
        check(f"Dockerfile: COPY {d} exists in the repository",
              os.path.exists(os.path.join(SRC, d)))
    check("Dockerfile builds the fxpipe target with cmake",
          re.search(r"cmake --build .*--target fxpipe", text) is not None)
    ep = re.search(r"^ENTRYPOINT\s+(\[.*\])", text, re.M)
    entry = json.loads(ep.group(1)) if ep else []
    check("Dockerfile: the entry point is the fxpipe binary it copies",
          entry and os.path.basename(entry[0]) == "fxpipe"
          and re.search(rf"^COPY --from=\S+ \S+ {re.escape(entry[0])}$",
                        text, re.M) is not None, f"ENTRYPOINT {entry}")
    # Runtime packages: those of every library the binary links directly.
    if not (shutil.which("readelf") and shutil.which("dpkg")):
        print("SKIP - Dockerfile runtime libraries (no readelf/dpkg here)")
    else:
        needed = re.findall(r"\(NEEDED\).*\[(.+?)\]", subprocess.run(
            ["readelf", "-d", FX], capture_output=True, text=True).stdout)
        rwords = set(re.findall(r"[A-Za-z0-9.+_-]+", runtime))
        bad = []
        for lib in needed:
            r = subprocess.run(["dpkg", "-S", f"*/{lib}"], capture_output=True,
                               text=True)
            owners = {ln.split(":")[0] for ln in r.stdout.splitlines()}
            # the C library; sanitizer runtimes of an ASan/UBSan build
            if owners & {"libc6", "libgcc-s1"} or \
                    re.match(r"lib(asan|ubsan|lsan|tsan|clang_rt)", lib):
                continue
            if not owners & rwords:
                bad.append(f"{lib} ({', '.join(sorted(owners)) or '?'})")
        check(f"Dockerfile runtime stage installs the package of each of the "
              f"{len(needed)} libraries fxpipe links", needed and not bad,
              f"missing {bad}")
    return entry[0] if entry else None, runtime


# --- docker-compose.yml ----------------------------------------------------

def compose_checks(compose, entry, runtime, prom):
    services = compose.get("services") or {}
    names = set(services)
    named_volumes = set((compose.get("volumes") or {}).keys())
    for s in ("nats", "kafka", "clickhouse", "timescaledb", "prometheus",
              "fxpipe-ingest", "fxpipe-aggregate", "fxpipe-bridge",
              "fxpipe-gaps"):
        check(f"compose: service {s} exists", s in services)
    img = lambda s: str((services.get(s) or {}).get("image", ""))
    check("compose: nats is NATS 2.9 with JetStream (-js)",
          img("nats").startswith("nats:2.9") and
          "-js" in (services.get("nats") or {}).get("command", []))
    check("compose: kafka only in the profile 'kafka'",
          (services.get("kafka") or {}).get("profiles") == ["kafka"])
    check("compose: no other service needs a profile",
          all(not v.get("profiles") for k, v in services.items()
              if k != "kafka"))
    check("compose: clickhouse image",
          re.match(r"(yandex|clickhouse)/clickhouse-server:", img("clickhouse"))
          is not None, img("clickhouse"))
    check("compose: timescaledb image is timescale/timescaledb:latest-pg15",
          img("timescaledb") == "timescale/timescaledb:latest-pg15")

    def hc_text(svc):
        hc = (services.get(svc) or {}).get("healthcheck") or {}
        if hc.get("disable"):
            return ""
        t = hc.get("test")
        return " ".join(t) if isinstance(t, list) else str(t or "")

    for svc, needle in (("nats", "/healthz"), ("clickhouse", "/ping"),
                        ("timescaledb", "pg_isready")):
        check(f"compose: {svc} healthcheck uses {needle}",
              needle in hc_text(svc), hc_text(svc))
    for svc in sorted(names):
        check(f"compose: {svc} has a healthcheck", bool(hc_text(svc).strip()))
        check(f"compose: {svc} has a restart policy",
              (services[svc].get("restart") in
               ("always", "unless-stopped", "on-failure")) or
              str(services[svc].get("restart", "")).startswith("on-failure:"),
              str(services[svc].get("restart")))
        dep = services[svc].get("depends_on") or {}
        if isinstance(dep, list):
            check(f"compose: {svc} depends_on has conditions", False,
                  "a list waits only for the start, not for health")
            dep = {d: {} for d in dep}
        for d, spec in dep.items():
            check(f"compose: {svc} depends_on {d}: service_healthy of a "
                  f"service with a healthcheck",
                  d in services and (spec or {}).get("condition") ==
                  "service_healthy" and bool(hc_text(d).strip()),
                  f"{d}: {spec}")

    # The fxpipe services.
    cmds = {}
    targets = {}
    for job in prom.get("scrape_configs") or []:
        for sc in job.get("static_configs") or []:
            for t in sc.get("targets") or []:
                targets.setdefault(t, job.get("job_name"))
    for svc in sorted(n for n in names if n.startswith("fxpipe-")):
        spec = services[svc]
        build = spec.get("build") or {}
        ctx = os.path.normpath(os.path.join(DEPLOY, build.get("context", ".")))
        check(f"compose: {svc} is built from deploy/Dockerfile in the "
              f"repository", ctx == SRC and os.path.normpath(os.path.join(
                  ctx, build.get("dockerfile", "Dockerfile"))) ==
              os.path.join(DEPLOY, "Dockerfile"), str(build))
        ep = spec.get("entrypoint", [entry] if entry else [])
        ep = shlex.split(ep) if isinstance(ep, str) else list(ep)
        command = spec.get("command", [])
        command = shlex.split(command) if isinstance(command, str) \
            else list(command)
        argv = [interpolate(str(a)) for a in ep + command]
        inv = fxpipe_invocations(argv, {"fxpipe"})
        if not check(f"compose: {svc} runs one fxpipe command",
                     len(inv) == 1, f"argv {argv}"):
            continue
        sub, args = inv[0]
        check(f"compose: {svc} runs `fxpipe {sub}`",
              svc == f"fxpipe-{sub}", sub)
        pairs, problems = parse_args(sub, args)
        check(f"compose: {svc}: every option is in `fxpipe {sub} --help`",
              not problems, "; ".join(problems))
        cmds[svc] = (sub, args, pairs)
        # health port = healthcheck port = scrape target port
        opts = help_options(sub)[1]
        health = one(pairs, "--health")
        if "--health" in opts:
            if not check(f"compose: {svc} serves --health", health is not None):
                continue
            if "--serve" in opts:
                check(f"compose: {svc} runs --serve (--health goes with it)",
                      any(n == "--serve" for n, _ in pairs))
            host, _, port = health.rpartition(":")
            check(f"compose: {svc} --health listens beyond the container's "
                  f"loopback (Prometheus scrapes it)", host == "0.0.0.0",
                  health)
            urls = re.findall(r"https?://([^/:\s]+):(\d+)(/\S*)",
                              hc_text(svc))
            check(f"compose: {svc} healthcheck is /healthz on the --health "
                  f"port {port}", any(p == port and path.startswith("/healthz")
                                       and h in LOOPBACK for h, p, path in urls),
                  hc_text(svc))
            if "curl" in hc_text(svc):
                check(f"compose: the image has curl for {svc}'s healthcheck",
                      re.search(r"\bcurl\b", runtime) is not None)
            check(f"compose: prometheus.yml scrapes {svc}:{port}",
                  f"{svc}:{port}" in targets,
                  f"targets {sorted(targets)}")
        # stop grace above the stop deadline
        dl = one(pairs, "--stop-deadline")
        deadline = float(dl) if dl else DEFAULT_STOP_DEADLINE_S
        grace = duration_s(spec.get("stop_grace_period", "10s"))
        check(f"compose: {svc} stop_grace_period ({grace:g} s) > stop "
              f"deadline + an attempt ({deadline + ATTEMPT_S:g} s)",
              grace is not None and grace > deadline + ATTEMPT_S)
        check(f"compose: {svc} stops with SIGTERM",
              spec.get("stop_signal", "SIGTERM") == "SIGTERM")
        # servers named on the command line are healthy dependencies
        deps = spec.get("depends_on") or {}
        for n, v in pairs:
            for scheme, host, port in url_hosts(v):
                if host in LOOPBACK:
                    continue
                check(f"compose: {svc} {n} {scheme}://{host} is a service it "
                      f"depends on", host in services and host in deps,
                      f"depends_on {list(deps)}")
        # state on named volumes
        mounts = []
        for vol in spec.get("volumes") or []:
            if isinstance(vol, str):
                parts = vol.split(":")
                mounts.append((parts[0], parts[1] if len(parts) > 1 else
                               parts[0]))
            else:
                mounts.append((vol.get("source"), vol.get("target")))
        for n in ("--journal", "--dlq"):
            for v in values(pairs, n):
                if v in (None, "none"):
                    continue
                best = max((m for m in mounts if inside(v, m[1])),
                           key=lambda m: len(m[1]), default=None)
                check(f"compose: {svc} {n} {v} is on a named volume "
                      f"(with the files next to it)",
                      best is not None and best[0] in named_volumes and
                      inside(v, best[1], strictly=True),
                      f"mounts {mounts}")
        conf = one(pairs, "--config")
        if conf:
            cfgs = {c.get("target"): c.get("source")
                    for c in spec.get("configs") or [] if isinstance(c, dict)}
            binds = {t: s for s, t in mounts}
            src = cfgs.get(conf)
            path = ((compose.get("configs") or {}).get(src) or {}).get("file") \
                if src else binds.get(conf)
            check(f"compose: {svc} --config {conf} is deploy/fxpipe.conf",
                  path is not None and os.path.normpath(
                      os.path.join(DEPLOY, path)) ==
                  os.path.join(DEPLOY, "fxpipe.conf"), str(path))

    # prometheus.yml and the prometheus service
    for t, job in sorted(targets.items()):
        host = t.rpartition(":")[0]
        check(f"prometheus.yml: target {t} (job {job}) is a compose service",
              host in services)
    p = services.get("prometheus") or {}
    mounts = {}
    for v in p.get("volumes") or []:
        if isinstance(v, str) and v.startswith("."):
            s, t = v.split(":")[:2]
            mounts[os.path.normpath(os.path.join(DEPLOY, s))] = t
    pc = mounts.get(os.path.join(DEPLOY, "prometheus.yml"))
    ac = mounts.get(os.path.join(DEPLOY, "alerts.yml"))
    rules = prom.get("rule_files") or []
    check("compose: prometheus mounts prometheus.yml and alerts.yml where "
          "rule_files finds it",
          pc and ac and any(os.path.normpath(os.path.join(
              os.path.dirname(pc), r)) == ac for r in rules), f"{mounts}")
    check("compose: prometheus reads the mounted prometheus.yml",
          pc is not None and f"--config.file={pc}" in (p.get("command") or []))

    # One prefix on every side of the bus.
    prefixes = {svc: one(pairs, "--bus-prefix") or one(pairs, "--prefix")
                for svc, (sub, args, pairs) in cmds.items()
                if sub in ("ingest", "aggregate", "bridge")}
    check("compose: ingest, aggregate and bridge use one bus prefix",
          len(set(prefixes.values())) == 1, str(prefixes))
    buses = {svc: one(pairs, "--bus") for svc, (_, _, pairs) in cmds.items()
             if one(pairs, "--bus")}
    check("compose: ingest, aggregate and bridge use one bus",
          len(buses) == 3 and len(set(buses.values())) == 1, str(buses))
    stores = values(cmds.get("fxpipe-bridge", ("", [], []))[2], "--store")
    check("compose: the bridge writes to ClickHouse and TimescaleDB",
          any(s.startswith("clickhouse://clickhouse:") for s in stores) and
          any(re.match(r"postgres(ql)?://[^/]*@?timescaledb:", s)
              for s in stores), str(stores))
    return cmds, names


# --- systemd ---------------------------------------------------------------

def parse_unit(text):
    """{section: {key: [values]}} with continuation lines joined."""
    out, sec = {}, None
    text = re.sub(r"\\\n", " ", text)
    for line in text.splitlines():
        s = line.strip()
        if not s or s[0] in "#;":
            continue
        if s.startswith("[") and s.endswith("]"):
            sec = out.setdefault(s[1:-1], {})
            continue
        k, _, v = s.partition("=")
        if sec is not None:
            sec.setdefault(k.strip(), []).append(v.strip())
    return out


def unit_argv(value):
    """ExecStart value -> argv as systemd runs it ($$ -> $, %% -> %)."""
    value = re.sub(r"^[-@:+!]+", "", value)
    return [a.replace("$$", "$").replace("%%", "%")
            for a in shlex.split(value)]


def systemd_checks(cmds, compose_names, entry):
    units = sorted(glob.glob(os.path.join(UNITS, "*.service")))
    others = sorted(os.path.basename(f) for f in
                    glob.glob(os.path.join(UNITS, "*"))
                    if not f.endswith(".service"))
    # every fxpipe service is long-lived (gaps too: gaps --serve); a timer
    # or another unit type would escape the checks below
    check("systemd: deploy/systemd holds only .service units", not others,
          str(others))
    unit_names = {os.path.basename(u)[:-len(".service")] for u in units}
    fx_services = {n for n in compose_names if n.startswith("fxpipe-")}
    check("systemd: one unit per fxpipe compose service",
          unit_names == fx_services,
          f"units {sorted(unit_names)}, compose {sorted(fx_services)}")
    notify = subprocess.run(["grep", "-rlE", "sd_notify|NOTIFY_SOCKET",
                             os.path.join(SRC, "src")],
                            capture_output=True, text=True).stdout.strip()

    # systemd-analyze verify, on copies whose fxpipe is the binary under test
    # (verify refuses a missing executable). Any message fails: an unknown
    # directive or a bad value is only a warning to systemd.
    if not shutil.which("systemd-analyze"):
        print("SKIP - systemd-analyze verify (not installed)")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            for f in units:
                txt = read(f)
                if entry:
                    txt = txt.replace(entry, FX)
                with open(os.path.join(tmp, os.path.basename(f)), "w") as g:
                    g.write(txt)
            for f in units:
                name = os.path.basename(f)
                r = subprocess.run(["systemd-analyze", "verify", "--man=no",
                                    os.path.join(tmp, name)],
                                   capture_output=True, text=True, cwd=tmp)
                msg = (r.stdout + r.stderr).strip().replace(tmp + "/", "")
                check(f"systemd-analyze verify {name}",
                      r.returncode == 0 and not msg,
                      f"exit {r.returncode}: {msg}")

    for f in units:
        name = os.path.basename(f)
        svc = name[:-len(".service")]
        u = parse_unit(read(f))
        unit, service = u.get("Unit", {}), u.get("Service", {})
        get = lambda k: (service.get(k) or [None])[-1]
        execs = service.get("ExecStart") or []
        if not check(f"systemd: {name} has one ExecStart", len(execs) == 1):
            continue
        argv = unit_argv(execs[0])
        inv = fxpipe_invocations(argv, {"fxpipe"})
        if not check(f"systemd: {name} runs one fxpipe command",
                     len(inv) == 1, str(argv)):
            continue
        sub, args = inv[0]
        words = argv + (shlex.split(argv[2]) if argv[1:2] == ["-c"] and
                        len(argv) > 2 else [])
        paths = [a for a in words if a.startswith("/") and
                 a.endswith("/fxpipe")]
        check(f"systemd: {name} runs the binary the image installs ({entry})",
              entry is not None and entry in paths, str(paths))
        pairs, problems = parse_args(sub, args)
        check(f"systemd: {name}: every option is in `fxpipe {sub} --help`",
              not problems, "; ".join(problems))
        if svc in cmds:
            csub, cargs, cpairs = cmds[svc]
            norm = lambda ps: [(n, normalise(v, compose_names))
                               for n, v in ps]
            a, b = norm(pairs), norm(cpairs)
            check(f"systemd: {name} runs the compose command (hosts aside)",
                  sub == csub and a == b,
                  f"\n    systemd: {a}\n    compose: {b}")
        check(f"systemd: {name} Type=simple (no sd_notify in the code)",
              get("Type") in ("simple", "exec") or
              (get("Type") == "notify" and bool(notify)), get("Type"))
        check(f"systemd: {name} is wanted by multi-user.target",
              "multi-user.target" in " ".join(
                  u.get("Install", {}).get("WantedBy", [])))
        check(f"systemd: {name} Restart=on-failure",
              get("Restart") == "on-failure", get("Restart"))
        check(f"systemd: {name} KillSignal=SIGTERM",
              get("KillSignal") in ("SIGTERM", "TERM", "15"), get("KillSignal"))
        dl = one(pairs, "--stop-deadline")
        deadline = float(dl) if dl else DEFAULT_STOP_DEADLINE_S
        stop = duration_s(get("TimeoutStopSec") or "90s")
        check(f"systemd: {name} TimeoutStopSec ({stop:g} s) > stop deadline + "
              f"an attempt ({deadline + ATTEMPT_S:g} s)",
              stop is not None and stop > deadline + ATTEMPT_S)
        user = get("User") or get("DynamicUser")
        check(f"systemd: {name} runs as a dedicated user",
              user not in (None, "root", "0", "no"), str(user))
        check(f"systemd: {name} NoNewPrivileges=yes",
              get("NoNewPrivileges") in ("yes", "true", "1"))
        check(f"systemd: {name} ProtectSystem=strict",
              get("ProtectSystem") == "strict")
        after = " ".join(unit.get("After", [])).split()
        wants = " ".join(unit.get("Wants", []) + unit.get("Requires", [])) \
            .split()
        check(f"systemd: {name} After= and Wants= network-online.target",
              "network-online.target" in after and
              "network-online.target" in wants)
        for n, v in pairs:
            for scheme, host, port in url_hosts(v):
                check(f"systemd: {name} {n} {scheme}:// is on loopback",
                      host in LOOPBACK, host)
                su = SERVER_UNITS.get(scheme)
                if su:
                    check(f"systemd: {name} starts after {su} ({n} {scheme}://)",
                          su in after, f"After={' '.join(after)}")
        health = one(pairs, "--health")
        if health:
            check(f"systemd: {name} --health on 127.0.0.1",
                  health.startswith("127.0.0.1:"), health)
        state = ["/var/lib/" + d for d in
                 " ".join(service.get("StateDirectory", [])).split()]
        rw = " ".join(service.get("ReadWritePaths", [])).split()
        for n in ("--journal", "--dlq"):
            for v in values(pairs, n):
                if v in (None, "none"):
                    continue
                check(f"systemd: {name} {n} {v} is inside its StateDirectory "
                      f"and a ReadWritePaths entry",
                      any(inside(v, s, strictly=True) for s in state) and
                      any(inside(v, p.lstrip("-"), strictly=True)
                          for p in rw), f"StateDirectory {state}, "
                      f"ReadWritePaths {rw}")
        if sub in ("ingest", "aggregate", "bridge"):
            check(f"systemd: {name} has a StateDirectory", bool(state))


# --- alerts and metric names ----------------------------------------------

def alert_checks(alerts):
    rules = [r for g in alerts.get("groups") or [] for r in g.get("rules") or []
             if "alert" in r]
    code = set()
    for f in glob.glob(os.path.join(SRC, "src", "**", "*.c"), recursive=True):
        code |= set(re.findall(r'"(fxpipe_[a-z0-9_]+)"', read(f)))
    exprs = " ".join(str(r.get("expr", "")) for r in rules)
    used = set(re.findall(r"(?<![\w\"])(fxpipe_[a-z0-9_]+)(?![\w(])",
                          re.sub(r'"[^"]*"', '""', exprs)))
    for m in sorted(used):
        check(f"alerts.yml: metric {m} is registered by the code", m in code)
    for rx in re.findall(r'__name__\s*=~\s*"([^"]+)"', exprs):
        hits = sorted(m for m in code if re.fullmatch(rx, m))
        check(f"alerts.yml: __name__=~\"{rx}\" matches metrics of the code",
              bool(hits), "none")
        print(f"#   {rx} -> {', '.join(hits)}")
    want = {
        "a service down": lambda e, r: re.search(r"\bup\b.*==\s*0", e),
        "a breaker open for 5m": lambda e, r: "breaker_state" in e and
        duration_s(r.get("for", "0s")) == 300,
        "ingest backlog growing": lambda e, r: "fxpipe_ingest_backlog" in e,
        "dead letters increasing": lambda e, r: "dead_letters_total" in e and
        re.search(r"\b(increase|rate|irate|delta)\(", e),
        "failed gaps runs": lambda e, r: re.search(
            r"\b(increase|rate|irate)\(fxpipe_gaps_failed_runs_total\b", e)
        and re.search(r"fxpipe_gaps_last_status\s*(>=\s*2|>\s*1)(?![\d.])", e),
    }
    for what, ok in want.items():
        check(f"alerts.yml: an alert for {what}",
              any(ok(str(r.get("expr", "")), r) for r in rules))
    tested = set()
    t = load_yaml("alerts_test.yml")
    for case in t.get("tests") or []:
        for a in case.get("alert_rule_test") or []:
            if a.get("exp_alerts"):
                tested.add(a.get("alertname"))
    for r in rules:
        check(f"alerts_test.yml: a test where {r['alert']} fires",
              r["alert"] in tested)


def promtool_checks():
    if not PROMTOOL:
        print("SKIP - promtool check config (promtool not installed)")
        print("SKIP - promtool check rules (promtool not installed)")
        print("SKIP - promtool test rules (promtool not installed)")
        return
    for args, what in ((["check", "config", "prometheus.yml"],
                        "promtool check config deploy/prometheus.yml"),
                       (["check", "rules", "alerts.yml"],
                        "promtool check rules deploy/alerts.yml"),
                       (["test", "rules", "alerts_test.yml"],
                        "promtool test rules deploy/alerts_test.yml")):
        r = subprocess.run([PROMTOOL] + args, capture_output=True, text=True,
                           cwd=DEPLOY)
        check(what, r.returncode == 0,
              (r.stdout + r.stderr).strip().replace("\n", "\n    "))


# --- fxpipe.conf -----------------------------------------------------------

def conf_checks(cmds):
    conf = os.path.join(DEPLOY, "fxpipe.conf")
    env = {k: v for k, v in os.environ.items() if not k.startswith("FXPIPE_")}
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([FX, "config", "--config", conf],
                           capture_output=True, text=True, env=env, cwd=tmp)
        if not check("fxpipe config --config deploy/fxpipe.conf exits 0",
                     r.returncode == 0,
                     f"exit {r.returncode}: {r.stderr.strip()}"):
            return
        cp = configparser.ConfigParser(inline_comment_prefixes=(";", "#"),
                                       interpolation=None)
        cp.read(conf)

        def get(key):
            q = subprocess.run([FX, "config", "--config", conf, "--get", key],
                               capture_output=True, text=True, env=env,
                               cwd=tmp)
            return q.stdout.strip() if q.returncode == 0 else None

        pairs_of = lambda svc: cmds.get(svc, ("", [], []))[2]
        flags = [("bus.prefix", "fxpipe-ingest", "--bus-prefix", 1),
                 ("bus.prefix", "fxpipe-aggregate", "--bus-prefix", 1),
                 ("bus.prefix", "fxpipe-bridge", "--bus-prefix", 1),
                 ("ingest.journal", "fxpipe-ingest", "--journal", 1),
                 ("aggregate.journal", "fxpipe-aggregate", "--journal", 1),
                 ("gaps.lookback_days", "fxpipe-gaps", "--lookback-days", 1),
                 ("store.stop_deadline_ms", "fxpipe-bridge", "--stop-deadline",
                  1000)]
        for key, svc, flag, scale in flags:
            sec, _, k = key.partition(".")
            flag_v = one(pairs_of(svc), flag)
            if not cp.has_option(sec, k) or flag_v is None:
                continue
            val = get(key)
            same = val == flag_v if scale == 1 else \
                val is not None and float(val) == float(flag_v) * scale
            check(f"fxpipe.conf {key} = {val} agrees with {svc} {flag} "
                  f"{flag_v}", same)


def main():
    compose = load_yaml("docker-compose.yml")
    prom = load_yaml("prometheus.yml")
    alerts = load_yaml("alerts.yml")
    entry, runtime = dockerfile_checks()
    cmds, names = compose_checks(compose, entry, runtime, prom)
    systemd_checks(cmds, names, entry)
    alert_checks(alerts)
    promtool_checks()
    conf_checks(cmds)
    if FAILS:
        print(f"# {FAILS} check(s) failed")
        sys.exit(1)
    print("# all deploy checks passed")


if __name__ == "__main__":
    main()
