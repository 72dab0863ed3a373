"""The report for people: one table per scenario, then a summary line per scenario."""


def sum_outcomes(lanes):
    out = {}
    for m in lanes.values():
        for code, n in m["outcomes"].items():
            out[code] = out.get(code, 0) + n
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def scenario_table(r):
    lines = [f"== {r['scenario']}  seed {r['seed']}  {r['requests']} requests  "
             f"{'HELD' if r['held'] else 'BROKEN'}",
             f"   {r['doc']}"]
    t = r["timings"]
    lines.append("   timings: " + ", ".join(f"{k} {v}" for k, v in t.items()))
    lines.append("   outcomes: " + (", ".join(f"{c} {n}" for c, n in r["outcomes"].items())
                                    or "none"))
    for name, m in r["lanes"].items():
        lines.append(f"     lane {name:10} {m['streams']:5} streams, resumed {m['resumed_streams']}"
                     f" ({m['resumes']} resumes), ttft p50 {m['ttft_p50_ms']} ms: "
                     + ", ".join(f"{c} {n}" for c, n in sorted(m["outcomes"].items())))
        if not r["held"] and m["client_errors"]:
            lines.append("       what its clients saw: " + "; ".join(
                f"{e} x{n}" for e, n in sorted(m["client_errors"].items())))
    lines.append("   fault schedule:")
    for f in r["faults"]:
        args = ", ".join(str(a) for a in f["args"])
        lines.append(f"     {f['at_s']:7.2f} s  {f['action']}({args}) -> {f['result']}")
    if not r["faults"]:
        lines.append("     (none)")
    for fl in r.get("floods", []):
        lines.append(f"   flood: {fl}")
    lines.append("   invariants:")
    for c in r["checks"]:
        lines.append(f"     {'held  ' if c['held'] else 'BROKEN'} {c['name']:26} {c['detail']}")
    if not r["held"] and r.get("streamgate_stderr_tail"):
        lines.append("   streamgate stderr (last lines):")
        lines += ["     " + s.rstrip()[:200] for s in r["streamgate_stderr_tail"]]
    return "\n".join(lines) + "\n"


def summary_table(run):
    lines = [f"chaos run: seed {run['seed']}, {run['duration_s']:.0f} s of load, "
             f"bounds {run['bounds']}, {run['wall_s']} s wall",
             f"{'scenario':20} {'requests':>8} {'load s':>7} {'total s':>7}  result  broken"]
    for r in run["scenarios"]:
        broken = [c["name"] for c in r["checks"] if not c["held"]]
        lines.append(f"{r['scenario']:20} {r['requests']:8} {r['timings'].get('load_s', 0):7} "
                     f"{r['timings'].get('total_s', 0):7}  {'HELD  ' if r['held'] else 'BROKEN'}"
                     f"  {', '.join(broken)}")
    lines.append("ALL INVARIANTS HELD" if run["held"] else "SOME INVARIANTS BROKE")
    return "\n".join(lines)
