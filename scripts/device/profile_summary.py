"""Summarise ONNX Runtime profiles (SEGCAM_ORT_PROFILE=PREFIX): time per (op type, provider), per session file.

Usage: profile_summary.py PROFILE.json [...]
Each file is one session; runs are averaged over the session's model_run events.
"""
import collections
import json
import sys

for path in sys.argv[1:]:
    events = json.load(open(path))
    runs = [e for e in events if e.get("name") == "model_run"]
    per = collections.defaultdict(lambda: [0, 0])
    for e in events:
        if e.get("cat") != "Node" or not e.get("name", "").endswith("_kernel_time"):
            continue
        args = e.get("args", {})
        key = (args.get("op_name", "?"), args.get("provider", "?"))
        per[key][0] += e.get("dur", 0)
        per[key][1] += 1
    count = max(1, len(runs))
    total = sum(v[0] for v in per.values()) / count / 1000
    wall = sorted(e["dur"] for e in runs)[len(runs) // 2] / 1000 if runs else 0
    print(f"{path}: {len(runs)} runs, median run {wall:.2f} ms, kernels {total:.2f} ms per run")
    for (op, provider), (dur, n) in sorted(per.items(), key=lambda kv: -kv[1][0])[:18]:
        print(f"  {op:28s} {provider:24s} {dur / count / 1000:8.3f} ms  x{n // count}")
