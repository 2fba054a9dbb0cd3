"""Turn a bench/run.py --json file into the Markdown table of bench/RESULTS.md:

    python bench/results_table.py results.json

GFLOP/s per implementation; ratios are time(baseline) / time(convx), > 1 means
convx is faster. With an "auto" run (--algorithms direct,im2col,auto) the table
also gives auto's figures and the algorithm it picked (convx.explain).
"""
import json
import os
import sys


def table(path):
    d = json.load(open(path))
    rows = {}
    for r in d["results"]:
        key = r["impl"] + (" " + r["algorithm"] if r["impl"] == "convx" else "")
        rows.setdefault((r["shape"], r["op"]), {})[key] = r
    shapes = {s["name"]: s for s in d["shapes"]}
    names = list(dict.fromkeys(r["shape"] for r in d["results"]))
    auto = any("convx auto" in g for g in rows.values())
    explain = None
    if auto:
        sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        import convx
        explain = convx.explain
    head = ["shape", "op", "numpy", "torch", "convx direct", "convx im2col"]
    if auto:
        head += ["convx auto (picks)", "auto / numpy", "auto / torch"]
    head += ["best convx / numpy", "best convx / torch"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in names:
        for op in ("fwd", "wgrad", "dgrad"):
            g = rows.get((s, op))
            if not g:
                continue

            def f(k):
                return f"{g[k]['gflops']:.1f}" if k in g and g[k].get("gflops") else "-"

            def ratios(r):
                tn = f"{r['speedup_vs_numpy']:.2f}"
                tt = f"{r['speedup_vs_torch']:.2f}" if r.get("speedup_vs_torch") else "-"
                return [tn, tt]

            best = max((g[k] for k in ("convx direct", "convx im2col") if k in g),
                       key=lambda r: r["gflops"] or 0)
            cells = [s, op, f("numpy"), f("torch"), f("convx direct"), f("convx im2col")]
            if auto:
                sh = shapes[s]
                pick = explain({"fwd": "conv2d", "wgrad": "conv2d_weight",
                                "dgrad": "conv2d_input"}[op],
                               (sh["n"], sh["c"], sh["h"], sh["w"]),
                               (sh["k"], sh["c"] // sh["groups"], sh["r"], sh["r"]),
                               stride=sh["stride"], padding=sh["pad"], groups=sh["groups"],
                               dtype=d["settings"]["dtype"]).algorithm
                cells += [f"{f('convx auto')} ({pick})"] + ratios(g["convx auto"])
            cells += ratios(best)
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


if __name__ == "__main__":
    print(table(sys.argv[1]))
