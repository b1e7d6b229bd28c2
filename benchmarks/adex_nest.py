"""AdEx: neuro's Euler-stepped ``AdEx`` against NEST's ``aeif_psc_delta`` (adaptive RKF45).

For the cases of ``tests/adex_cases.py`` (NEST's default Brette-Gerstner neuron and four firing
patterns of Naud et al. 2008, constant input from rest, 300 ms), NEST runs at resolution 0.01 ms in a
spawned process and neuro's ``AdEx`` (float64, Numba CPU kernel) at dt = 0.1, 0.01 and 0.001 ms.
Reported: spike counts and the largest spike-time difference over the common spikes. Writes
``benchmarks/results/adex_nest/{summary.json, README.md, spike_time_error.png}``::

    python benchmarks/adex_nest.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import adex_cases as C  # noqa: E402
from neuro._io import pyplot, save_figure, write_text  # noqa: E402
from neuro.astro.nest_reference import run_isolated  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "adex_nest"
NEST_RESOLUTION = 0.01
DTS = (0.1, 0.01, 0.001)


def main() -> int:
    import nest

    OUT.mkdir(parents=True, exist_ok=True)
    refs = run_isolated(C.nest_run_many, C.CASES, NEST_RESOLUTION)
    rows = []
    for case, ref in zip(C.CASES, refs):
        row = {"case": case["name"], "I_pA": case["I"], "nest_spike_times_ms": ref.tolist(), "neuro": {}}
        for dt in DTS:
            row["neuro"][str(dt)] = C.compare(C.neuro_run(case, dt), ref)
        rows.append(row)
        print(case["name"], row["neuro"], flush=True)
    summary = {"nest_version": nest.__version__, "nest_model": "aeif_psc_delta",
               "nest_resolution_ms": NEST_RESOLUTION, "cases": rows}
    write_text(OUT / "summary.json", json.dumps(summary, indent=1) + "\n")

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.5))
    for row in rows:
        errs = [max(row["neuro"][str(dt)]["max_abs_dt_ms"], 1e-4) for dt in DTS]
        ax.loglog(DTS, errs, "o-", label=row["case"])
    ax.set(xlabel="neuro Euler step dt (ms)", ylabel="max |spike time - NEST's| (ms)",
           title=f"AdEx vs NEST {nest.__version__} aeif_psc_delta (res {NEST_RESOLUTION} ms)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, OUT / "spike_time_error.png")

    lines = [f"# AdEx: neuro (Euler) vs NEST {nest.__version__} `aeif_psc_delta` (RKF45)", "",
             f"Made by `python benchmarks/adex_nest.py`: constant input from rest for 300 ms, NEST at "
             f"resolution {NEST_RESOLUTION} ms, neuro's `AdEx` in float64 (Numba CPU). Cells: neuro's spike "
             "count / largest spike-time difference from NEST's over the common spikes (Euler is first "
             "order: the error falls about 10x per 10x smaller step).", "",
             "| case | I (pA) | NEST spikes | " + " | ".join(f"neuro dt={dt} ms" for dt in DTS) + " |",
             "|---|---|---|" + "---|" * len(DTS)]
    for row in rows:
        cells = [f"{row['neuro'][str(dt)]['neuro_spikes']} / {row['neuro'][str(dt)]['max_abs_dt_ms']:.3f} ms"
                 for dt in DTS]
        lines.append(f"| {row['case']} | {row['I_pA']:g} | {len(row['nest_spike_times_ms'])} | "
                     + " | ".join(cells) + " |")
    lines += ["", "![spike-time error](spike_time_error.png)"]
    write_text(OUT / "README.md", "\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
