#!/usr/bin/env python3
"""Top frames of a dotnet-trace speedscope file, on-CPU managed time only.

dotnet-sampled-thread-time samples every thread, waiting or not; each stack ends in a pseudo-frame: CPU_TIME (managed
code running) or UNMANAGED_CODE_TIME (native code: mostly waits and syscalls). Only CPU_TIME stacks are counted, so idle
thread-pool workers and timers do not drown the request path. Usage: speedscope-top.py FILE [N]
"""
import json, sys
from collections import Counter

doc = json.load(open(sys.argv[1]))
top = int(sys.argv[2]) if len(sys.argv) > 2 else 20
names = [f["name"] for f in doc["shared"]["frames"]]
cpu = names.index("CPU_TIME")
inclusive, exclusive, total = Counter(), Counter(), 0.0
for profile in doc["profiles"]:
    stack, opened = [], []
    for event in profile["events"]:  # evented: O opens a frame at "at", C closes it
        if event["type"] == "O":
            stack.append(event["frame"]); opened.append(event["at"])
        else:
            start = opened.pop(); frame = stack.pop()
            if frame != cpu:
                continue
            weight = event["at"] - start
            total += weight
            if stack:
                exclusive[stack[-1]] += weight
            for f in set(stack):
                inclusive[f] += weight

def show(title, counter):
    print(f"{title} (of {total:.0f} ms on-CPU managed samples)")
    for i, (frame, w) in enumerate(counter.most_common(top), 1):
        print(f"{i:2}. {100 * w / total:5.1f}%  {names[frame][:140]}")

show("exclusive", exclusive)
show("inclusive", inclusive)
