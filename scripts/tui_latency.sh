#!/usr/bin/env bash
# Idle CPU and input-to-redraw latency of the TUI, measured from outside the process.
#
#   scripts/tui_latency.sh [BINARY ...]      (default: target/release/logitscope)
#
# Each binary runs on the default model in a 120x40 pseudo-terminal that this script owns
# (no terminal emulator in between, so the timings are the program's own). After the model
# has loaded and a few steps are drawn it measures:
#   idle   utime+stime from /proc/PID/stat over IDLE_S seconds (default 30) without input,
#          as % of one core;
#   select time from writing a Left/Right key (moves the step selection, no model call) to
#          the last byte of the redraw (the output is quiet for 50 ms after it), N_KEYS keys
#          (default 50): median and p90 in ms;
#   knob   the same for +/- (temperature): the UI redraws at once, then again when the
#          engine's re-filtered distribution (cached logits, no model call) arrives;
#          N_KNOB keys (default 20).
# Several binaries run back to back in one call, so a before/after pair shares the machine's
# load; `uptime` is printed before and after. Needs python3 and the model (scripts/setup.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
[ $# -gt 0 ] || set -- target/release/logitscope
echo "load before: $(uptime)"
for bin in "$@"; do
  python3 - "$bin" <<'EOF'
import fcntl, os, pty, random, select, statistics, struct, sys, termios, time

BIN = sys.argv[1]
IDLE_S = float(os.environ.get("IDLE_S", "30"))
N_KEYS = int(os.environ.get("N_KEYS", "50"))
N_KNOB = int(os.environ.get("N_KNOB", "20"))
QUIET = 0.05
PROMPT = "The quick brown fox"

pid, fd = pty.fork()
if pid == 0:
    fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    os.environ["TERM"] = "xterm-256color"
    os.execv(BIN, [BIN, "--prompt", PROMPT])

seen = bytearray()
closing = False  # after `q` the end of the output is expected

def read_until_quiet(quiet, limit):
    """Reads output until none arrives for `quiet` s (or `limit` s pass); returns the
    arrival times of the first and last chunk (None when nothing came)."""
    first = last = None
    end = time.monotonic() + limit
    while True:
        wait = min(quiet, end - time.monotonic())
        if wait <= 0:
            return first, last
        r, _, _ = select.select([fd], [], [], wait)
        if not r:
            return first, last
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            if closing:
                return first, last
            sys.exit(f"{BIN}: exited; output tail: {bytes(seen[-2000:])!r}")
        now = time.perf_counter_ns()
        first = first or now
        last = now
        seen.extend(chunk)

def cpu_ticks():
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime

def press(key):
    t0 = time.perf_counter_ns()
    os.write(fd, key)
    _, last = read_until_quiet(QUIET, 2.0)
    return None if last is None else (last - t0) / 1e6

def summary(name, xs):
    xs = [x for x in xs if x is not None]
    if len(xs) < 2:
        return f"{name}: too few redraws ({len(xs)})"
    q = statistics.quantiles(xs, n=10)
    return f"{name}: median {statistics.median(xs):.2f} ms, p90 {q[8]:.2f} ms (n={len(xs)})"

# Loaded: the alternate screen is up and the first screen has been quiet for 2 s.
deadline = time.monotonic() + 300
while b"\x1b[?1049h" not in seen or read_until_quiet(2.0, 2.0)[0] is not None:
    if time.monotonic() > deadline:
        sys.exit(f"{BIN}: the UI did not come up")
    read_until_quiet(0.2, 0.2)
for _ in range(4):  # a few steps (Space), so the selection has somewhere to move
    os.write(fd, b" ")
    read_until_quiet(1.0, 30)
read_until_quiet(2.0, 10)

hz = os.sysconf("SC_CLK_TCK")
c0, t0 = cpu_ticks(), time.monotonic()
read_until_quiet(IDLE_S, IDLE_S)
c1, t1 = cpu_ticks(), time.monotonic()
idle = 100.0 * (c1 - c0) / hz / (t1 - t0)

sel, knob = [], []
for i in range(N_KEYS):
    time.sleep(random.uniform(0.02, 0.06))
    sel.append(press(b"\x1b[D" if i % 2 == 0 else b"\x1b[C"))
for i in range(N_KNOB):
    time.sleep(random.uniform(0.02, 0.06))
    knob.append(press(b"+" if i % 2 == 0 else b"-"))

closing = True
os.write(fd, b"q")
read_until_quiet(0.5, 5)
os.waitpid(pid, 0)
print(f"{BIN}")
print(f"  idle CPU: {idle:.2f}% of one core over {t1 - t0:.0f} s")
print("  " + summary("select (Left/Right)", sel))
print("  " + summary("knob (+/-, engine round trip)", knob))
EOF
done
echo "load after: $(uptime)"
