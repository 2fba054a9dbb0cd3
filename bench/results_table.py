"""Turn a bench/run.py --json file into the Markdown table of bench/RESULTS.md:

    python bench/results_table.py results.json
"""
import json, sys
def table(path):
    d=json.load(open(path)); rows={}
    for r in d['results']:
        rows.setdefault((r['shape'],r['op']),{})[r['impl']+(' '+r['algorithm'] if r['impl']=='convx' else '')]=r
    shapes=[]; [shapes.append(r['shape']) for r in d['results'] if r['shape'] not in shapes]
    out=["| shape | op | numpy | torch | convx direct | convx im2col | best convx / numpy | best convx / torch |","|---|---|---|---|---|---|---|---|"]
    for s in shapes:
        for op in ['fwd','wgrad','dgrad']:
            g=rows.get((s,op));
            if not g: continue
            f=lambda k: f"{g[k]['gflops']:.1f}" if k in g else "-"
            best=max((g[k] for k in g if k.startswith('convx')), key=lambda r:r['gflops'])
            tn=f"{best['speedup_vs_numpy']:.2f}"; tt=f"{best['speedup_vs_torch']:.2f}" if best.get('speedup_vs_torch') else '-'
            out.append(f"| {s} | {op} | {f('numpy')} | {f('torch')} | {f('convx direct')} | {f('convx im2col')} | {tn} | {tt} |")
    return "\n".join(out)
print(table(sys.argv[1]))
