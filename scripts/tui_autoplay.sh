#!/usr/bin/env bash
# Autoplay in the TUI against headless decoding of the same run, wall clock.
#
#   scripts/tui_autoplay.sh [BINARY ...]      (default: target/release/logitscope)
#
# For each binary, PAIRS times (default 3), in alternating order:
#   headless  `generate --json --prompt P --seed S --max-tokens N KNOBS` on a pipe: the arrival
#             time of each step record;
#   tui       the TUI in a COLS x ROWS (120x40) pseudo-terminal that this script owns (no
#             terminal emulator in between), started with `--prompt P --seed S --max-tokens N KNOBS`; once the
#             model has loaded and the screen is quiet, `a` starts autoplay, which pauses by
#             itself at N tokens. The output is recorded with arrival times and replayed
#             afterwards through a small screen model; a step's time is the arrival of the
#             first frame whose transcript title reads `step K/K` (the TUI draws engine events
#             at most 25 times a second, so not every step has a frame; the figure runs from
#             the first step drawn, one of the first five, to the N-th).
# Both figures are wall-clock ms per token from the first generated token to the N-th:
# (t_N - t_1) / (N - 1); the prefill and loading are outside them. Also printed: the median
# forward time each side reports (the `done` record's decode_ms_per_token, the TUI status bar's
# ms/tok; both the median of the last 64 forwards, not wall clock) and the CPU time the TUI's
# UI thread spent per token while autoplay ran.
# The TUI's session is saved (`w`) at the end and its tokens must equal the headless run's.
# Prints every run, the medians, the ratio TUI / headless (of the medians, and within each
# pair, whose two runs are adjacent in time) and the 1-minute load average before and after. Attention capture stays off (the main tab never turns it on). Several
# binaries are measured in turn within each pair, so a before/after comparison shares the
# machine's load.
# Settings: N (250), PAIRS (3), SEED (1), PROMPT, KNOBS ("--temperature 0.8 --top-p 0.95"),
# COLS (120), ROWS (40), TARGET (1.15, the ratio reported as met or not). Exit status 1 when
# the tokens differ.
# Needs python3 (standard library only) and the model (scripts/setup.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -gt 0 ] || set -- target/release/logitscope
exec python3 - "$@" <<'EOF'
import codecs, fcntl, json, os, pty, re, select, shlex, shutil, signal, statistics
import struct, subprocess, sys, tempfile, termios, time, unicodedata

BINS = [os.path.abspath(b) for b in sys.argv[1:]]
N = int(os.environ.get("N", "250"))
PAIRS = int(os.environ.get("PAIRS", "3"))
SEED = os.environ.get("SEED", "1")
PROMPT = os.environ.get(
    "PROMPT", "Once upon a time, in a village by the sea, an old lighthouse keeper")
KNOBS = shlex.split(os.environ.get("KNOBS", "--temperature 0.8 --top-p 0.95"))
TARGET = float(os.environ.get("TARGET", "1.15"))
ROWS, COLS = int(os.environ.get("ROWS", "40")), int(os.environ.get("COLS", "120"))
ARGS = ["--prompt", PROMPT, "--seed", SEED, "--max-tokens", str(N)] + KNOBS

def loadavg():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])

def per_token(times):
    """Wall ms per token from the first step's time to the N-th's."""
    return (times[N - 1] - times[0]) / (N - 1) / 1e6

def headless(binary):
    p = subprocess.Popen([binary, "generate", "--json"] + ARGS, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE)
    fd = p.stdout.fileno()
    chunks = []
    while True:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        chunks.append((time.perf_counter_ns(), chunk))
    err = p.stderr.read().decode(errors="replace")
    if p.wait() != 0:
        sys.exit(f"{binary} generate failed: {err.strip()}")
    # A step's time: the arrival of the chunk that completed its line.
    times, ids, done, buf = [], [], None, b""
    for t, chunk in chunks:
        buf += chunk
        *lines, buf = buf.split(b"\n")
        for line in lines:
            r = json.loads(line)
            if r["type"] == "step":
                times.append(t)
                ids.append(r["token_id"])
            elif r["type"] == "done":
                done = r
    if len(ids) != N:
        sys.exit(f"headless run stopped after {len(ids)} of {N} tokens: choose another SEED")
    return {"ms": per_token(times), "forward": done["timings"]["decode_ms_per_token"],
            "ids": ids}

class Screen:
    """Just enough of a terminal for ratatui's output: cursor moves, clears, text."""
    CSI = re.compile(r"\x1b\[([0-9;?]*)([@-~])")

    def __init__(self):
        self.grid = [[" "] * COLS for _ in range(ROWS)]
        self.row = self.col = 0
        self.dec = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.rest = ""

    def feed(self, data):
        s = self.rest + self.dec.decode(data)
        self.rest = ""
        i = 0
        while i < len(s):
            c = s[i]
            if c == "\x1b":
                if i + 1 >= len(s):
                    self.rest = s[i:]
                    return
                if s[i + 1] != "[":
                    i += 2
                    continue
                m = self.CSI.match(s, i)
                if not m:
                    if re.fullmatch(r"\x1b\[[0-9;?]*", s[i:]):
                        self.rest = s[i:]
                        return
                    i += 2
                    continue
                params, final = m.group(1), m.group(2)
                if final == "H":
                    nums = [int(x) if x else 1 for x in params.split(";")] + [1, 1]
                    self.row, self.col = nums[0] - 1, nums[1] - 1
                elif final == "J" and params == "2":
                    self.grid = [[" "] * COLS for _ in range(ROWS)]
                i = m.end()
                continue
            if c == "\r":
                self.col = 0
            elif c == "\n":
                self.row += 1
            elif c >= " ":
                if 0 <= self.row < ROWS and 0 <= self.col < COLS:
                    self.grid[self.row][self.col] = c
                wide = unicodedata.east_asian_width(c) in "WF"
                if wide and 0 <= self.row < ROWS and self.col + 1 < COLS:
                    self.grid[self.row][self.col + 1] = ""
                self.col += 2 if wide else 1
            i += 1

    def lines(self):
        return ["".join(r) for r in self.grid]

TITLE = re.compile(r"Transcript · step (\d+)/(\d+)")
STATUS = re.compile(r"([\d.]+) ms/tok")

def ui_ticks(pid):
    """CPU time (clock ticks) of the UI thread: the main thread, whose id is the pid."""
    with open(f"/proc/{pid}/task/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime

def tui(binary):
    workdir = tempfile.mkdtemp(prefix="tui-autoplay-")
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
        os.environ["TERM"] = "xterm-256color"
        os.chdir(workdir)
        os.execv(binary, [binary, "--no-mouse"] + ARGS)
    chunks = []
    closed = []

    def read_until_quiet(quiet, limit):
        """Records output until none arrives for `quiet` s (or `limit` s pass); whether
        anything came."""
        got = False
        end = time.monotonic() + limit
        while True:
            wait = min(quiet, end - time.monotonic())
            if wait <= 0:
                return got
            r, _, _ = select.select([fd], [], [], wait)
            if not r:
                return got
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the program has exited
                closed.append(True)
                return got
            chunks.append((time.perf_counter_ns(), chunk))
            got = True

    try:
        # Loaded: the alternate screen is up and the screen has been quiet for 2 s.
        deadline = time.monotonic() + 300
        while b"\x1b[?1049h" not in b"".join(c for _, c in chunks) or read_until_quiet(2.0, 2.0):
            if closed or time.monotonic() > deadline:
                tail = b"".join(c for _, c in chunks)[-2000:]
                sys.exit(f"{binary}: the UI did not come up; output tail: {tail!r}")
            read_until_quiet(0.2, 0.2)
        start = len(chunks)
        ui0 = ui_ticks(pid)
        os.write(fd, b"a")
        # Autoplay pauses by itself at N tokens; then nothing is drawn.
        read_until_quiet(3.0, 30 + N * 2.0)
        ui_ms = (ui_ticks(pid) - ui0) * 1000 / os.sysconf("SC_CLK_TCK")
        screen = Screen()
        for _, c in chunks[:start]:
            screen.feed(c)
        times = {}
        for t, c in chunks[start:]:
            screen.feed(c)
            for line in screen.lines():
                m = TITLE.search(line)
                if m and m.group(1) == m.group(2):
                    times.setdefault(int(m.group(2)), t)
        shown = screen.lines()
        status = shown[-1]
        if max(times, default=0) != N or "paused" not in status:
            sys.exit(f"{binary}: autoplay did not pause at {N} tokens; last screen:\n"
                     + "\n".join(shown))
        if min(times) > 5:
            sys.exit(f"{binary}: no frame showed any of the first five steps")
        # A frame may carry several steps (engine events are drawn at most 25 times a
        # second): a step's time is the first frame showing it, and the figure runs from the
        # first step drawn to the last.
        steps = sorted(times)
        at = [times[k] for k in steps]
        ms = (at[-1] - at[0]) / (steps[-1] - steps[0]) / 1e6
        forward = STATUS.search(status)
        # Save the session to compare its tokens with the headless run's.
        os.write(fd, b"w")
        saved = None
        for _ in range(100):
            read_until_quiet(0.1, 0.1)
            files = [f for f in os.listdir(workdir) if f.endswith(".json")]
            if files:
                saved = os.path.join(workdir, files[0])
                break
        ids = None
        if saved:
            time.sleep(0.2)
            with open(saved) as f:
                s = json.load(f)
            ids = [st["token_id"] for st in s["branches"][s["current"]]["steps"]]
        os.write(fd, b"q")
        read_until_quiet(0.5, 5)
        return {"ms": ms, "forward": float(forward.group(1)) if forward else None, "ids": ids,
                "frames": len(steps), "ui": ui_ms / N}
    finally:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
        shutil.rmtree(workdir, ignore_errors=True)

print(f"N={N} PAIRS={PAIRS} SEED={SEED} KNOBS={' '.join(KNOBS)} {COLS}x{ROWS}")
print(f"prompt: {PROMPT!r}")
load_before = loadavg()
print(f"1-min load average before: {load_before:.2f}")
results = {b: {"headless": [], "tui": []} for b in BINS}
for i in range(PAIRS):
    for b in BINS:
        order = ["headless", "tui"] if i % 2 == 0 else ["tui", "headless"]
        for kind in order:
            r = headless(b) if kind == "headless" else tui(b)
            results[b][kind].append(r)
            extra = (f", {r['frames']} frames, UI thread {r['ui']:.2f} ms CPU/token"
                     if kind == "tui" else "")
            fw = "n/a" if r["forward"] is None else f"{r['forward']:.1f}"
            print(f"  pair {i + 1} {os.path.relpath(b)} {kind:8}: {r['ms']:7.2f} ms/token wall "
                  f"(median forward {fw} ms{extra}), load {loadavg():.2f}", flush=True)
load_after = loadavg()
ok = True
for b in BINS:
    h, t = results[b]["headless"], results[b]["tui"]
    ref = h[0]["ids"]
    same = all(r["ids"] == ref for r in h + t)
    ok &= same
    hm = statistics.median(r["ms"] for r in h)
    tm = statistics.median(r["ms"] for r in t)
    hf = statistics.median(r["forward"] for r in h)
    tf = [r["forward"] for r in t if r["forward"] is not None]
    tf = f"{statistics.median(tf):.1f}" if tf else "n/a"
    print(f"{os.path.relpath(b)}")
    print(f"  headless: median {hm:.2f} ms/token wall (median forward {hf:.1f} ms)")
    ui = statistics.median(r["ui"] for r in t)
    print(f"  tui:      median {tm:.2f} ms/token wall (status bar forward {tf} ms; "
          f"UI thread {ui:.2f} ms CPU/token)")
    print(f"  ratio tui/headless: {tm / hm:.3f} (target: at most {TARGET}: "
          f"{'met' if tm / hm <= TARGET else 'NOT met'})")
    pairs = [b["ms"] / a["ms"] for a, b in zip(h, t)]
    print(f"  ratio within each pair: {' '.join(f'{x:.3f}' for x in pairs)} "
          f"(median {statistics.median(pairs):.3f})")
    print(f"  same {N} tokens in every run: {'yes' if same else 'NO'}")
print(f"1-min load average before / after: {load_before:.2f} / {load_after:.2f}")
sys.exit(0 if ok else 1)
EOF
