"""The main job quiet and beside busy processes: ``fastrnn train`` for a few
seconds on an idle machine, then beside ``--busy`` busy-loop processes
(started and ended here), and the busy rate as a share of the quiet one
(with 2 cores and 2 busy processes, a fair share is 50%).

    python bench/main_job_busy.py [--seconds 15] [--busy 2] [-- TRAIN ARGS...]

Extra arguments after ``--`` go to ``fastrnn train`` (for example a text
file or ``--hidden 128``).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from fastrnn.bench import BusyProcesses


def train_rate(seconds, extra, out):
    """(characters per second, held-out bits/char) of one ``fastrnn train`` run."""
    r = subprocess.run([sys.executable, "-m", "fastrnn", "train", "--time-limit", str(seconds),
                        "--seed", "0", "--out", str(out), *extra],
                       capture_output=True, text=True, check=True)
    rate = re.search(r"\(([\d.]+)(k?) chars/s", r.stdout)
    bpc = re.search(r"held-out bits/char: ([\d.]+)", r.stdout)
    return float(rate.group(1)) * (1e3 if rate.group(2) else 1.0), float(bpc.group(1))


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=15.0)
    p.add_argument("--busy", type=int, default=2)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.npz"
        quiet = train_rate(args.seconds, extra, out)
        with BusyProcesses(args.busy):
            busy = train_rate(args.seconds, extra, out)
    print(f"quiet: {quiet[0] / 1e3:.1f}k chars/s (held-out {quiet[1]:.3f} bits/char)")
    print(f"beside {args.busy} busy processes: {busy[0] / 1e3:.1f}k chars/s (held-out "
          f"{busy[1]:.3f}): {busy[0] / quiet[0]:.0%} of quiet")


if __name__ == "__main__":
    main()
