"""The lab as an oracle, long run: many generated rounds, every report figure against the event log.

    flock /run/netmon-lab-tests.lock python bench/oracle.py [--rounds 8] [--cases 25] [--seed 1000]
                                                            [--out bench/results/oracle.json]

Brings the simulated province up (calm preset, the shipped inventory), runs ``--rounds`` rounds
of ``--cases`` concurrent cases each (`netmon.lab.oracle.generate`, seeds ``seed``, ``seed + 1``...;
every other round also stops the prober for 15-25 s; checks every 5 s), compares each round's
`netmon report` with the lab's event log (`netmon.lab.oracle.compare`, tolerances in its
docstring) and brings the lab down. Prints and writes the number of cases, of sites compared,
every mismatch and the worst error per figure; each round's inventory, store, report and event
log stay in ``--work`` for inspection. Root only (the lab); hold the machine's lab lock as above.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.inventory import load
from netmon.lab import control, oracle, topology

ROOT = Path(__file__).resolve().parents[1]
INVENTORY = ROOT / "config" / "communes.yaml"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--cases", type=int, default=25)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--length", type=float, default=150.0, help="seconds of faults per round")
    ap.add_argument("--work", type=Path, default=Path("/tmp/netmon-oracle"))
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "oracle.json")
    ap.add_argument("--recompare", action="store_true",
                    help="no lab: compare the rounds saved in --work again (after fixing the comparison)")
    args = ap.parse_args()
    if args.recompare:
        saved = args.work.glob("round-*.meta.json")
        seeds = sorted(int(p.name.split(".")[0].removeprefix("round-")) for p in saved)
        return _report([oracle.recompare(args.work, seed) for seed in seeds], 0.0, [], args)
    plan = topology.plan(load(INVENTORY))
    lab, _ = control.up(INVENTORY, "calm")
    outcomes = []
    started = time.time()
    loads = [os.getloadavg()[0]]
    try:
        for i in range(args.rounds):
            seed = args.seed + i
            rnd = oracle.generate(seed, plan, cases=args.cases, length=args.length, prober_down=i % 2 == 1)
            outcome = oracle.run(rnd, lab, INVENTORY, args.work)
            outcomes.append(outcome)
            loads.append(os.getloadavg()[0])
            print(f"round {seed}: {len(rnd.cases)} cases, {outcome.compared} sites, "
                  f"{len(outcome.mismatches)} mismatches, worst {outcome.worst_error}", flush=True)
            for m in outcome.mismatches:
                print(f"  MISMATCH {m}", flush=True)
    finally:
        control.down()
    return _report(outcomes, time.time() - started, loads, args)


def _report(outcomes: list[oracle.Outcome], seconds: float, loads: list[float],
            args: argparse.Namespace) -> int:
    for o in outcomes:
        print(f"round {o.round.seed}: {o.compared} sites, {len(o.mismatches)} mismatches")
    result = oracle.summary(outcomes) | {
        "seconds": round(seconds),
        "load_average_1m": {"min": min(loads, default=None), "max": max(loads, default=None)},
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "mismatches"}, indent=2))
    print(f"mismatches: {len(result['mismatches'])}")
    return 0 if not result["mismatches"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
