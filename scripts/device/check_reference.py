"""Run every PyTorch reference case through a segcam binary and check the case's tolerance.

Usage: check_reference.py SEGCAM REFERENCE_DIR WORK_DIR [extra segcam args...]
Used on the GPU machine (scripts/device/run.sh), where no .NET SDK exists to run the test suite; the
.NET suite (ReferenceCaseTests) does the same on CPU. Prints one line per array and exits 1 on any failure.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np


def main() -> int:
    segcam, reference, work = sys.argv[1], sys.argv[2], sys.argv[3]
    extra = sys.argv[4:]
    failures = 0
    cases = sorted(os.listdir(os.path.join(reference, "cases")))
    for name in cases:
        source = os.path.join(reference, "cases", name)
        case = json.load(open(os.path.join(source, "case.json")))
        target = os.path.join(work, "cases", name)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(source, target)
        models = os.path.join(work, "models")
        if not os.path.exists(models):
            shutil.copytree(os.path.join(reference, "models"), models)
        command = [segcam] + case["cli"][1:] + extra
        run = subprocess.run(command, cwd=target, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"FAIL {name}: exit {run.returncode}: {run.stderr.strip()[-400:]}")
            failures += 1
            continue
        said = [line for line in run.stderr.splitlines() if line.startswith("segcam:")]
        print(f"case {name}: {' | '.join(said)}")
        for key, file in case["expected"].items():
            expected = np.load(os.path.join(target, file))
            got = np.load(os.path.join(target, f"out.{key}.npy"))
            scale = float(np.max(np.abs(expected))) if expected.size else 0.0
            error = float(np.max(np.abs(got.astype(np.float64) - expected))) if got.shape == expected.shape else float("inf")
            ok = got.shape == expected.shape and error <= 1e-4 * scale
            failures += 0 if ok else 1
            relative = error / scale if scale > 0 else error
            print(f"  {'ok  ' if ok else 'FAIL'} {key:20s} shape {got.shape} max|err|/max|exp| = {relative:.2e}")
    print(f"{len(cases)} cases, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
