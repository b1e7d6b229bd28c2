"""Izhikevich neurons: neuro against NEST 3.10's ``izhikevich`` model, and the stored reference traces.

For every case of ``tests/izhikevich_cases.py`` (the presets regular spiking, intrinsically
bursting, chattering, fast spiking at 1.0 and 0.1 ms, the other Izhikevich (2003) presets at 0.1 ms;
an input current schedule 0 / 10 / 4 / 15 pA over 300 ms) NEST runs in a spawned process, neuro's
``Izhikevich`` layer (float64, Numba CPU kernel) runs the same input, and the spike times and the
``V_m`` / ``U_m`` traces are compared exactly. Writes

* ``benchmarks/results/izhikevich_nest/nest_izhikevich.npz`` — NEST's traces (the reference
  ``tests/test_izhikevich.py`` checks against when NEST is not installed),
* ``benchmarks/results/izhikevich_nest/summary.json`` and ``README.md`` — the comparison table.

    python benchmarks/izhikevich_nest.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import izhikevich_cases as C  # noqa: E402
from neuro._io import atomic_write, write_text  # noqa: E402
from neuro.astro.nest_reference import run_isolated  # noqa: E402

OUT = Path(__file__).resolve().parent / "results" / "izhikevich_nest"


def main() -> int:
    import nest  # noqa: F401  (fails early without nest-simulator)

    OUT.mkdir(parents=True, exist_ok=True)
    arrays, rows = {}, []
    for case in C.CASES:
        ref = run_isolated(C.nest_run, case)
        ours = C.neuro_run(case)
        n = len(ref["V_m"])
        row = {"case": case["name"], "nest_spikes": int(len(ref["spike_times_ms"])),
               "neuro_spikes": int(len(ours["spike_times_ms"])),
               "spike_times_equal": bool(np.array_equal(np.round(ours["spike_times_ms"], 9),
                                                        np.round(ref["spike_times_ms"], 9))),
               "V_m_bit_identical": bool(np.array_equal(ours["V_m"][:n], ref["V_m"])),
               "U_m_bit_identical": bool(np.array_equal(ours["U_m"][:n], ref["U_m"])),
               "max_abs_V_m": float(np.abs(ours["V_m"][:n] - ref["V_m"]).max())}
        rows.append(row)
        print(row)
        for key, value in ref.items():
            arrays[f"{case['name']}/{key}"] = value
    atomic_write(OUT / "nest_izhikevich.npz", lambda fh: np.savez_compressed(fh, **arrays))
    import nest as _nest

    summary = {"nest_version": _nest.__version__, "cases": rows}
    write_text(OUT / "summary.json", json.dumps(summary, indent=1) + "\n")
    lines = ["# Izhikevich: neuro vs NEST " + _nest.__version__, "",
             "Made by `python benchmarks/izhikevich_nest.py` (float64, Numba CPU kernel; NEST's "
             "`izhikevich`, `consistent_integration=True`; input 0 / 10 / 4 / 15 pA for "
             "20 / 150 / 80 / 50 ms; "
             "start V_m = -70 mV, U_m = -14).", "",
             "| case | NEST spikes | neuro spikes | spike times equal | V_m bit-identical "
             "| U_m bit-identical |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['nest_spikes']} | {r['neuro_spikes']} | {r['spike_times_equal']} | "
              f"{r['V_m_bit_identical']} | {r['U_m_bit_identical']} |" for r in rows]
    write_text(OUT / "README.md", "\n".join(lines) + "\n")
    return 0 if all(r["spike_times_equal"] and r["V_m_bit_identical"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
