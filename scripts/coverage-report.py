#!/usr/bin/env python3
"""Line and branch coverage of the product folders, after a `make coverage` run.

Usage: coverage-report.py <source root> <build dir>. Writes <build dir>/coverage/index.html
(gcovr's per-file HTML) and prints one line per folder, the total, and the files with the
most uncovered lines.
"""
import json
import os
import subprocess
import sys
from collections import defaultdict

PRODUCT = ["actors", "transports", "providers", "supervision", "telemetry", "app"]


def gcovr(root, build, *args):
    subprocess.run(
        ["gcovr", "--root", root, "--filter", os.path.join(root, "(%s)/" % "|".join(PRODUCT)),
         "--exclude-throw-branches", "--exclude-unreachable-branches", "--gcov-ignore-parse-errors",
         "-j", "2", *args, build],
        check=True)


def percent(covered, total):
    # A folder with nothing measured was not built: no figure rather than 100 %.
    return "%5.1f %%" % (100.0 * covered / total) if total else "    n/a"


def main():
    root, build = (os.path.abspath(a) for a in sys.argv[1:3])
    out = os.path.join(build, "coverage")
    os.makedirs(out, exist_ok=True)
    summary = os.path.join(out, "summary.json")
    gcovr(root, build, "--html-details", os.path.join(out, "index.html"),
          "--json-summary", summary)
    with open(summary) as f:
        files = json.load(f)["files"]

    folders = defaultdict(lambda: [0, 0, 0, 0])
    for entry in files:
        top = entry["filename"].split("/")[0]
        for key, i in (("line_covered", 0), ("line_total", 1),
                       ("branch_covered", 2), ("branch_total", 3)):
            folders[top][i] += entry[key]
            folders["total"][i] += entry[key]

    print("\ncoverage by folder       lines                  branches")
    for name in PRODUCT + ["total"]:
        lc, lt, bc, bt = folders[name]
        print("  %-12s %s %6d/%-6d   %s %6d/%-6d"
              % (name, percent(lc, lt), lc, lt, percent(bc, bt), bc, bt))
    print("\nmost uncovered lines:")
    worst = sorted(files, key=lambda e: e["line_covered"] - e["line_total"])[:15]
    for entry in worst:
        print("  %5d  %s" % (entry["line_total"] - entry["line_covered"], entry["filename"]))
    print("\nHTML report: %s" % os.path.join(out, "index.html"))


if __name__ == "__main__":
    main()
