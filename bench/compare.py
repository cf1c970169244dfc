"""Side-by-side benchmark runner: glassbox vs PyTorch, JAX and FANN on
Fashion-MNIST. Normally started through bench/run.sh (which prepares the
virtualenv); see bench/README.md.

Steps: compile bench/fann_article.c, build glassbox (cargo build --release,
plus the inference_bench example), then run every selected (workload, tool)
pair, interleaved when --repeats > 1 (A B C A B C ...), each as its own
process pinned to --threads CPUs. Per child it records the per-epoch
training seconds that the tool reports, test accuracy, and peak RSS
(ru_maxrss from wait4). Prints a Markdown report and writes it to
bench/RESULTS.md (raw data to bench/out/results.json).
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
DATA = "/usr/share/datasets/fashion-mnist"
TOOLS = ["glassbox", "fann", "torch", "jax"]
WORKLOADS = ["article", "modern", "infer"]
SUPPORTS = {
    "glassbox": {"article", "modern", "infer"},
    "fann": {"article"},
    "torch": {"article", "modern", "infer"},
    "jax": {"article", "modern", "infer"},
}
TITLES = {
    "article": "Article network: 784-30-10 sigmoid/sigmoid, MSE (0.5·SSE), SGD lr 0.1, batch 1",
    "modern": "Modern network: 784-512-256-10 ReLU, softmax + cross-entropy, Adam lr 1e-3, batch 128",
    "infer": "Inference: 784-512-256-10 ReLU, 10 000 test images in one batch / one image per call",
}
GB_NOT_BUILT = "glassbox not built yet"


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- processes

def busy_cpu_seconds():
    """CPU seconds spent by everything on the machine (non-idle), from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    # user nice system idle iowait irq softirq steal ...
    busy = v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
    return busy / os.sysconf("SC_CLK_TCK")


def run_child(cmd, name, threads, timeout, pin=True):
    """Runs cmd with stdout/stderr to bench/out/logs/<name>.{out,err}.
    Returns dict(rc, stdout, stderr_tail, maxrss_kb, wall_s, timed_out)."""
    logs = os.path.join(OUT, "logs")
    os.makedirs(logs, exist_ok=True)
    out_path = os.path.join(logs, name + ".out")
    err_path = os.path.join(logs, name + ".err")
    if pin and shutil.which("taskset") and threads < (os.cpu_count() or threads):
        cmd = ["taskset", "-c", f"0-{threads - 1}"] + cmd
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        env[var] = str(threads)
    cpu0 = busy_cpu_seconds()
    t0 = time.perf_counter()
    timed_out = False
    with open(out_path, "wb") as fo, open(err_path, "wb") as fe:
        try:
            p = subprocess.Popen(cmd, stdout=fo, stderr=fe, cwd=ROOT, env=env)
        except OSError as e:
            return {"rc": 127, "stdout": "", "stderr_tail": str(e), "maxrss_kb": None,
                    "wall_s": 0.0, "timed_out": False}
        deadline = t0 + timeout
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid == p.pid:
                break
            if time.perf_counter() > deadline and not timed_out:
                timed_out = True
                p.send_signal(signal.SIGKILL)
            time.sleep(0.05)
        p.returncode = os.waitstatus_to_exitcode(status)  # already reaped
    wall = time.perf_counter() - t0
    cpu1 = busy_cpu_seconds()
    other_cpu = None
    if cpu0 is not None and cpu1 is not None and wall > 0:
        # cores' worth of CPU used by processes other than this child, on average
        other_cpu = max(0.0, (cpu1 - cpu0 - ru.ru_utime - ru.ru_stime) / wall)
    with open(out_path, encoding="utf-8", errors="replace") as f:
        stdout = f.read()
    with open(err_path, encoding="utf-8", errors="replace") as f:
        stderr_tail = f.read()[-2000:]
    return {"rc": p.returncode, "stdout": stdout, "stderr_tail": stderr_tail,
            "maxrss_kb": ru.ru_maxrss, "wall_s": wall, "timed_out": timed_out, "other_cpu": other_cpu}


def last_json(stdout, key=None):
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if key is None or key in obj:
            return obj
    return None


def capture(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


# ---------------------------------------------------------------- building

def build_fann():
    exe = os.path.join(OUT, "fann_article")
    cmd = ["gcc", "-O3", "-march=native", "-o", exe, os.path.join(HERE, "fann_article.c"),
           "-lfloatfann", "-lz", "-lm"]
    log("compiling FANN program: " + " ".join(cmd))
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        log("FANN compile failed:\n" + r.stderr)
        return None
    return exe


def build_glassbox(skip):
    """Returns (train_exe or None, infer_exe or None, notes)."""
    notes = []
    train_exe = os.environ.get("BENCH_GLASSBOX_BIN") or os.path.join(ROOT, "target", "release", "glassbox")
    infer_exe = os.environ.get("BENCH_INFERENCE_BIN") or \
        os.path.join(ROOT, "target", "release", "examples", "inference_bench")
    if not skip:
        for cmd in (["cargo", "build", "--release"],
                    ["cargo", "build", "--release", "--workspace", "--example", "inference_bench",
                     "--example", "fma_peak"]):
            log("building glassbox: " + " ".join(cmd))
            r = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
            if r.returncode != 0:
                noise = ("Downloaded", "Downloading", "Compiling", "Updating", "Locking", "Adding",
                         "Blocking", "Checking", "Fresh")
                kept = [ln for ln in r.stderr.strip().splitlines() if not ln.strip().startswith(noise)]
                tail = "\n".join(kept[-15:])
                notes.append(f"`{' '.join(cmd)}` failed ({GB_NOT_BUILT}?):\n\n```\n{tail}\n```")
                log(f"{' '.join(cmd)} failed — {GB_NOT_BUILT}; continuing with the references")
    if not os.path.isfile(train_exe):
        notes.append(f"{GB_NOT_BUILT}: no binary at target/release/glassbox")
        train_exe = None
    if not os.path.isfile(infer_exe):
        notes.append(f"{GB_NOT_BUILT}: no example binary at target/release/examples/inference_bench")
        infer_exe = None
    return train_exe, infer_exe, notes


# ---------------------------------------------------------------- the machine's peak

# Layer widths of the training workloads, for their arithmetic per epoch.
ARCHITECTURES = {"article": [784, 30, 10], "modern": [784, 512, 256, 10]}


def epoch_gflop(workload, examples=60000):
    """Floating-point operations of one training epoch's matrix products, in GFLOP: per
    example and layer, the forward product and the weight gradient (inputs × outputs
    multiply-adds each), plus the error sent down for every layer but the first. Two
    operations per multiply-add. Activations, loss and optimiser are not counted."""
    widths = ARCHITECTURES[workload]
    macs = 0
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:])):
        macs += 2 * n_in * n_out + (n_in * n_out if i > 0 else 0)
    return 2 * macs * examples / 1e9


def measure_peak():
    """Runs the fma_peak example (one thread per core of independent vector FMAs) and
    returns its JSON, or None when it is not built or fails."""
    exe = os.environ.get("BENCH_PEAK_BIN") or os.path.join(ROOT, "target", "release", "examples", "fma_peak")
    if not os.path.isfile(exe):
        return None
    try:
        r = subprocess.run([exe], capture_output=True, text=True, timeout=120)
        got = last_json(r.stdout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if not got or not got.get("all_cores_gflops"):
        return None
    log(f"fp32 FMA peak: {got['all_cores_gflops']} GFLOP/s on {got['cores']} cores ({got['isa']})")
    return got


# ---------------------------------------------------------------- workloads

def glassbox_train_cmd(exe, workload, epochs, threads, out_model):
    common = ["--data", DATA, "--epochs", str(epochs), "--threads", str(threads), "--seed", "1",
              "--json", "--quiet", "--out", out_model]
    if workload == "article":
        spec = ["--layers", "30", "--activation", "sigmoid", "--output", "sigmoid", "--loss", "mse",
                "--optimizer", "sgd", "--lr", "0.1", "--batch-size", "1"]
    else:
        spec = ["--layers", "512,256", "--activation", "relu", "--output", "softmax",
                "--loss", "cross-entropy", "--optimizer", "adam", "--lr", "0.001", "--batch-size", "128"]
    return [exe, "train"] + spec + common


class Runner:
    def __init__(self, args, fann_exe, gb_train, gb_infer):
        self.args = args
        self.fann_exe = fann_exe
        self.gb_train = gb_train
        self.gb_infer = gb_infer
        self.gb_infer_model = None
        self.py = sys.executable

    def run(self, tool, workload, rep):
        a = self.args
        name = f"{workload}-{tool}-r{rep}"
        threads = a.threads
        res = {"tool": tool, "workload": workload, "rep": rep, "threads": threads, "ok": False}
        if tool == "fann":
            if not self.fann_exe:
                res["note"] = "FANN program did not compile"
                return res
            cmd = [self.fann_exe, "--data", DATA, "--epochs", str(a.epochs), "--seed", "1"]
            res["threads"] = 1
        elif tool in ("torch", "jax"):
            cmd = [self.py, os.path.join(HERE, f"{tool}_bench.py"), "--workload", workload,
                   "--epochs", str(a.epochs), "--threads", str(threads), "--data", DATA, "--seed", "1"]
            if workload == "infer":
                cmd += ["--batch-runs", str(a.batch_runs), "--single-runs", str(a.single_runs)]
        else:  # glassbox
            if workload == "infer":
                if not self.gb_infer or not self.gb_train:
                    res["note"] = GB_NOT_BUILT
                    return res
                model = self.glassbox_infer_model()
                if model is None:
                    res["note"] = f"{GB_NOT_BUILT}: could not train the 1-epoch model for inference"
                    return res
                cmd = [self.gb_infer, "--model", model, "--data", DATA, "--threads", str(threads)]
            else:
                if not self.gb_train:
                    res["note"] = GB_NOT_BUILT
                    return res
                model = os.path.join(OUT, f"glassbox_{workload}.safetensors")
                cmd = glassbox_train_cmd(self.gb_train, workload, a.epochs, threads, model)
        log(f"run {name}: {' '.join(cmd)}")
        r = run_child(cmd, name, threads, a.timeout)
        res.update({"maxrss_kb": r["maxrss_kb"], "wall_s": r["wall_s"], "cmd": cmd,
                    "other_cpu": r["other_cpu"]})
        if (r["other_cpu"] or 0) > 0.15:
            log(f"  warning: other processes used {r['other_cpu']:.2f} cores during this run")
        if r["timed_out"]:
            res["note"] = f"timed out after {a.timeout} s"
            return res
        want = "batch_ms" if workload == "infer" else "seconds_per_epoch"
        obj = last_json(r["stdout"], want)
        if r["rc"] != 0 or obj is None:
            why = f"exit code {r['rc']}" if r["rc"] != 0 else f"no JSON line with {want!r} on stdout"
            tail = r["stderr_tail"].strip().splitlines()[-3:]
            res["note"] = (f"{GB_NOT_BUILT}? " if tool == "glassbox" else "") + why + \
                (": " + " | ".join(tail) if tail else "")
            log(f"  failed: {res['note']}")
            return res
        res["ok"] = True
        if workload == "infer":
            res["batch_ms"] = float(obj["batch_ms"])
            res["single_us"] = float(obj["single_us"])
            log(f"  batch {res['batch_ms']:.2f} ms, single {res['single_us']:.1f} us, "
                f"RSS {r['maxrss_kb'] / 1024:.0f} MiB")
        else:
            res["seconds_per_epoch"] = [float(s) for s in obj["seconds_per_epoch"]]
            res["test_accuracy"] = float(obj["test_accuracy"]) if obj.get("test_accuracy") is not None else None
            res["train_examples"] = int(obj.get("train_examples", 60000))
            if "version" in obj:
                res["version"] = obj["version"]
            log("  s/epoch " + ", ".join(f"{s:.3f}" for s in res["seconds_per_epoch"]) +
                f"; test acc {res['test_accuracy']}; RSS {r['maxrss_kb'] / 1024:.0f} MiB")
        return res

    def glassbox_infer_model(self):
        if self.gb_infer_model is not None:
            return self.gb_infer_model or None
        model = os.path.join(OUT, "glassbox_infer_model.safetensors")
        cmd = glassbox_train_cmd(self.gb_train, "modern", 1, self.args.threads, model)
        log("training a 1-epoch glassbox model for inference: " + " ".join(cmd))
        r = run_child(cmd, "infer-glassbox-model", self.args.threads, self.args.timeout)
        ok = r["rc"] == 0 and os.path.isfile(model)
        self.gb_infer_model = model if ok else ""
        return self.gb_infer_model or None


# ---------------------------------------------------------------- report

def aggregate(results):
    """(workload, tool) -> summary over all repeats."""
    agg = {}
    for r in results:
        key = (r["workload"], r["tool"])
        g = agg.setdefault(key, {"runs": [], "notes": []})
        g["runs"].append(r)
        if not r["ok"] and r.get("note"):
            g["notes"].append(r["note"])
    for (workload, _tool), g in agg.items():
        ok = [r for r in g["runs"] if r["ok"]]
        g["ok"] = bool(ok)
        if not ok:
            continue
        g["threads"] = ok[0]["threads"]
        g["maxrss_kb"] = max(r["maxrss_kb"] for r in ok if r["maxrss_kb"] is not None)
        if workload == "infer":
            g["batch_ms"] = statistics.median(r["batch_ms"] for r in ok)
            g["single_us"] = statistics.median(r["single_us"] for r in ok)
        else:
            timed = []
            for r in ok:
                s = r["seconds_per_epoch"]
                timed += s[1:] if len(s) > 1 else s
            g["epoch_median"] = statistics.median(timed)
            g["epoch_min"] = min(timed)
            g["epoch_max"] = max(timed)
            g["timed_epochs"] = len(timed)
            g["first_epoch"] = statistics.median(r["seconds_per_epoch"][0] for r in ok)
            g["examples_per_s"] = ok[0]["train_examples"] / g["epoch_median"]
            accs = [r["test_accuracy"] for r in ok if r["test_accuracy"] is not None]
            g["test_accuracy"] = statistics.median(accs) if accs else None
    return agg


def fmt_ratio(gb, ref):
    if gb is None or ref is None or ref == 0:
        return "—"
    return f"{gb / ref:.2f}×"


def tables(agg, tools, args):
    lines = []
    for w in WORKLOADS:
        present = [t for t in tools if (w, t) in agg]
        if not present:
            continue
        lines += [f"### {TITLES[w]}", ""]
        gb = agg.get((w, "glassbox"))
        gb = gb if gb and gb["ok"] else None
        if w == "infer":
            lines += ["| tool | threads | batch of 10 000 (ms) | one image (µs) | peak RSS (MiB) "
                      "| glassbox / ref: batch | single | RSS |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|"]
        else:
            lines += ["| tool | threads | s/epoch median (min–max) | first epoch (s) | examples/s "
                      "| GFLOP/s (of fp32 peak) | test acc | peak RSS (MiB) | glassbox / ref: time | RSS |",
                      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for t in present:
            g = agg[(w, t)]
            if not g["ok"]:
                note = g["notes"][0] if g["notes"] else "failed"
                cols = 8 if w == "infer" else 10
                lines.append(f"| {t} | " + " | ".join(["—"] * (cols - 2)) + f" | {note.splitlines()[0][:200]} |")
                continue
            rss = g["maxrss_kb"] / 1024
            is_ref = t != "glassbox"
            if w == "infer":
                r_b = fmt_ratio(gb and gb["batch_ms"], g["batch_ms"]) if is_ref else ""
                r_s = fmt_ratio(gb and gb["single_us"], g["single_us"]) if is_ref else ""
                r_m = fmt_ratio(gb and gb["maxrss_kb"], g["maxrss_kb"]) if is_ref else ""
                lines.append(f"| {t} | {g['threads']} | {g['batch_ms']:.2f} | {g['single_us']:.1f} "
                             f"| {rss:.0f} | {r_b} | {r_s} | {r_m} |")
            else:
                r_t = fmt_ratio(gb and gb["epoch_median"], g["epoch_median"]) if is_ref else ""
                r_m = fmt_ratio(gb and gb["maxrss_kb"], g["maxrss_kb"]) if is_ref else ""
                acc = f"{g['test_accuracy']:.4f}" if g["test_accuracy"] is not None else "—"
                gflops = epoch_gflop(w) / g["epoch_median"]
                peak = None
                if args.peaks:  # the cores this run used (FANN: one)
                    cores = args.peaks[0]["cores"]
                    used = min(int(g["threads"]), cores)
                    peak = max(p["all_cores_gflops"] for p in args.peaks) * used / cores
                of_peak = f"{gflops:.1f} ({gflops / peak:.0%})" if peak else f"{gflops:.1f}"
                lines.append(f"| {t} | {g['threads']} | {g['epoch_median']:.3f} "
                             f"({g['epoch_min']:.3f}–{g['epoch_max']:.3f}) | {g['first_epoch']:.3f} "
                             f"| {g['examples_per_s']:,.0f} | {of_peak} | {acc} | {rss:.0f} | {r_t} | {r_m} |")
        lines.append("")
    return lines


def system_info(results):
    cpu = ""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and not cpu:
                    cpu = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line
    except OSError:
        pass
    simd = ", ".join(x for x in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f" {x}" in flags)
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
            mem = f"{kb / 1024 / 1024:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    versions = {}
    for r in results:
        if r.get("version"):
            versions[r["tool"]] = r["version"]
    fann_v = capture(["dpkg-query", "-W", "-f=${Version}", "libfann-dev"])
    rev = capture(["git", "rev-parse", "--short", "HEAD"])
    dirty = " (with uncommitted changes)" if capture(["git", "status", "--porcelain", "--", "crates"]) else ""
    return [
        f"- machine: {cpu or platform.processor()} ({simd}), {os.cpu_count()} logical CPUs, {mem} RAM, "
        f"{platform.system()} {platform.release()}",
        f"- glassbox: commit {rev}{dirty}, {capture(['rustc', '--version'])}, `cargo build --release`",
        f"- PyTorch {versions.get('torch', '?')}, JAX {versions.get('jax', '?')}, "
        f"Python {platform.python_version()}",
        f"- FANN (float) {fann_v or '?'}, {capture(['gcc', '--version']).splitlines()[0] if capture(['gcc', '--version']) else 'gcc ?'}, "
        "`-O3 -march=native`",
    ]


def report(args, agg, results, notes, tools):
    now = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines = ["# glassbox benchmark results", "",
             f"Generated by `bash bench/run.sh {' '.join(args.argv)}`".rstrip() + f" on {now}.", ""]
    lines += system_info(results)
    lines += ["", f"Settings: {args.epochs} epochs per training run, {args.threads} threads "
              f"(FANN is single-threaded), {args.repeats} repeat(s) interleaved. "
              "s/epoch = training time only, median and min–max over the epochs after the first "
              "(all repeats pooled; the first epoch is listed separately because it includes JIT "
              "compilation for JAX). examples/s = 60 000 / median s/epoch. Test accuracy after the "
              "last epoch (median over repeats). Peak RSS = ru_maxrss of the whole process "
              "(includes the interpreter and framework for PyTorch/JAX). Ratios are "
              "glassbox ÷ reference: below 1× means glassbox is faster / smaller.", ""]
    busy = [r for r in results if (r.get("other_cpu") or 0) > 0.15]
    if busy:
        worst = max(busy, key=lambda r: r["other_cpu"])
        lines += [f"**Warning:** the machine was not idle: during {len(busy)} of {len(results)} runs other "
                  f"processes used more than 0.15 CPU cores on average (worst: {worst['other_cpu']:.2f} "
                  f"cores during {worst['workload']}/{worst['tool']}). Those timings are unreliable.", ""]
    if args.peaks:
        alls = [p["all_cores_gflops"] for p in args.peaks]
        one = max(p["one_core_gflops"] for p in args.peaks)
        p0 = args.peaks[0]
        lines += [f"fp32 FMA peak of this machine (`cargo run --release --example fma_peak`: one thread "
                  f"per core of independent {p0['isa']} FMAs), measured before each round of runs and "
                  f"after the last: {', '.join(f'{a:.0f}' for a in alls)} GFLOP/s on {p0['cores']} cores "
                  f"({one:.0f} on one). GFLOP/s = the matrix products' arithmetic per epoch "
                  f"({', '.join(f'{w} {epoch_gflop(w):.1f} GFLOP' for w in ARCHITECTURES)}; activations, "
                  f"loss and optimiser not counted) ÷ median s/epoch; the fraction is of the highest peak "
                  f"measured, for the cores the run used (one for FANN, which is single-threaded).", ""]
    else:
        lines += ["fp32 FMA peak: not measured (the fma_peak example is not built, or the CPU lacks "
                  "AVX2 + FMA).", ""]
    lines += tables(agg, tools, args)
    all_notes = list(notes)
    for (w, t), g in sorted(agg.items()):
        for n in dict.fromkeys(g["notes"]):
            all_notes.append(f"{w}/{t}: {n}")
    if all_notes:
        lines += ["### Notes", ""] + [f"- {n}" if not n.startswith("`") else n for n in all_notes] + [""]
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=None, help="epochs per training run (default 5; 2 with --quick)")
    p.add_argument("--threads", type=int, default=2, help="threads for every tool (default 2)")
    p.add_argument("--only", default=",".join(TOOLS), help="comma list of tools: torch,jax,fann,glassbox")
    p.add_argument("--workloads", default=",".join(WORKLOADS), help="comma list: article,modern,infer")
    p.add_argument("--repeats", type=int, default=None, help="runs of each pair, interleaved (default 2; 1 with --quick)")
    p.add_argument("--quick", action="store_true", help="smoke test: 2 epochs, 1 repeat, fewer inference calls")
    p.add_argument("--no-build", action="store_true", help="do not run cargo build (use existing binaries)")
    p.add_argument("--timeout", type=int, default=3600, help="seconds allowed per child process")
    p.add_argument("--results", default=os.path.join(HERE, "RESULTS.md"), help="where to write the Markdown report")
    args = p.parse_args()
    args.argv = sys.argv[1:]
    if args.epochs is None:
        args.epochs = 2 if args.quick else 5
    if args.repeats is None:
        args.repeats = 1 if args.quick else 2
    args.batch_runs = 5 if args.quick else 20
    args.single_runs = 200 if args.quick else 1000
    tools = [t.strip() for t in args.only.split(",") if t.strip()]
    workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    bad = [t for t in tools if t not in TOOLS] + [w for w in workloads if w not in WORKLOADS]
    if bad:
        p.error(f"unknown tool/workload: {', '.join(bad)}")
    if args.threads < 1 or args.epochs < 1 or args.repeats < 1:
        p.error("--threads, --epochs and --repeats must be >= 1")
    if not os.path.isdir(DATA):
        p.error(f"Fashion-MNIST not found at {DATA} (apt-get install dataset-fashion-mnist)")
    os.makedirs(OUT, exist_ok=True)

    notes = []
    fann_exe = build_fann() if "fann" in tools else None
    gb_train = gb_infer = None
    if "glassbox" in tools:
        gb_train, gb_infer, gb_notes = build_glassbox(args.no_build)
        notes += gb_notes

    runner = Runner(args, fann_exe, gb_train, gb_infer)
    results = []
    # The peak is measured before every round of runs and after the last, side by side
    # with them: on a shared machine it moves with the load as the tools' timings do.
    peaks = []
    for rep in range(1, args.repeats + 1):
        peaks.append(measure_peak())
        for w in workloads:
            for t in tools:
                if w in SUPPORTS[t]:
                    results.append(runner.run(t, w, rep))
    peaks.append(measure_peak())
    args.peaks = [p for p in peaks if p]

    agg = aggregate(results)
    text = report(args, agg, results, notes, tools)
    with open(os.path.join(OUT, "results.json"), "w") as f:
        json.dump(results, f, indent=1)
    with open(args.results, "w") as f:
        f.write(text + "\n")
    print(text)
    log(f"report written to {os.path.relpath(args.results, ROOT)}; raw data in bench/out/results.json")


if __name__ == "__main__":
    main()
