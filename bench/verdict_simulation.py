"""Proof by simulation of the seeds-until-decided rule (no training).

Draws paired differences (variant − baseline, one per seed) from a normal and a
heavy-tailed distribution (Student t with 3 df, scaled to the same SD) with a true
difference of 0, the margin M and 2×M, runs the sequential rule of
``poolstride.experiment.sequential`` (looks at 3, 4, …, 10 seeds, O'Brien–Fleming-type α
spending, exact t boundaries) on every replication and prints, per SD/M:

- the false-positive rate: "better" or "worse" when the true difference is 0, with its
  Monte-Carlo standard error (the rule promises ≤ 5%);
- how often "equivalent" is reached at 0, and the mean seeds used there;
- the power ("better") at 2×M and the mean seeds used there;
- the false-equivalence rate at a true difference of exactly M (promised ≤ 5%);
- for normal differences, the seeds a fixed design needs for the same power at 2×M
  (two-sided t-test) and for the same equivalence rate at 0 (TOST) -- exact noncentral-t /
  χ-integral power -- and the saving of the sequential rule against each.

Then the whole loop on families of 5 variants against one shared baseline (Holm across
the family, rounds planned by ``next_round``), as ``compare --seeds auto`` would run it.

Rates depend only on SD/M and difference/M, so M = 1 here: for accuracy with its default
margin of 0.5 points, SD/M = 1 means a seed-to-seed SD of the paired difference of 0.5
points (MNIST-1D: about 0.3–1.5 points).

    .venv/bin/python bench/verdict_simulation.py               # 20,000 replications
    .venv/bin/python bench/verdict_simulation.py --reps 2000 --family-reps 200   # quick
"""

from __future__ import annotations

import argparse
import time

from poolstride.experiment.sequential import Design, simulate, simulate_family, t_boundaries
from poolstride.experiment.stats import power_equivalence, power_superiority

M = 1.0


def fixed_design(
    power: float, equiv: float, sd: float, alpha: float, reps: int, cap: int = 200
) -> int | None:
    """Smallest fixed n whose t-test power at 2M and TOST power at 0 reach ``power`` and
    ``equiv`` (normal theory, exact); a rate of 1 is matched at ``1 − 1/reps``."""
    top = 1 - 1 / reps
    for n in range(2, cap + 1):
        if power_superiority(n, sd, 2 * M, alpha) >= min(power, top) and power_equivalence(
            n, sd, M, 0.0, alpha
        ) >= min(equiv, top):
            return n
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=20_000, help="replications per cell")
    ap.add_argument("--family-reps", type=int, default=1000, help="replications per family")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-seeds", type=int, default=10)
    ap.add_argument("--step", type=int, default=1)
    ap.add_argument("--spending", default="obf", choices=["obf", "pocock"])
    args = ap.parse_args()
    design = Design(step=args.step, max_seeds=args.max_seeds, spending=args.spending)
    t0 = time.perf_counter()

    print(
        f"design: looks at {', '.join(map(str, design.looks))} seeds, {design.spending} "
        f"spending, α = {design.alpha} for each error (false better/worse; false equivalent)"
    )
    b2 = t_boundaries(design.looks, design.max_seeds, design.alpha, True, design.spending)
    b1 = t_boundaries(design.looks, design.max_seeds, design.alpha, False, design.spending)
    print("  |t| boundary, better/worse:  " + "  ".join(f"{b:.2f}" for b in b2))
    print("  t boundary, each TOST side:  " + "  ".join(f"{b:.2f}" for b in b1))
    print(f"replications per cell: {args.reps} (M = margin; rates depend on SD/M only)\n")

    head = (
        f"{'dist':6} {'SD/M':>4} | {'false b/w @0':>14} {'equiv @0':>8} {'seeds':>5} | "
        f"{'power @2M':>9} {'seeds':>5} | {'false eq @M':>15} | {'n=10: pow  eq':>13} | "
        f"{'same-power n':>12} {'saving @0 @2M':>13}"
    )
    print(head)
    print("─" * len(head))
    for dist in ("normal", "t3"):
        for k, ratio in enumerate((0.5, 1.0, 1.5, 2.0, 3.0)):
            sd = ratio * M
            s = args.seed + 100 * k + (0 if dist == "normal" else 50)
            null = simulate(0.0, sd, M, design, args.reps, dist, s)
            two = simulate(2 * M, sd, M, design, args.reps, dist, s + 1)
            edge = simulate(M, sd, M, design, args.reps, dist, s + 2)
            fpr, fpr_se = null.different, null.se(null.different)
            feq, feq_se = edge.equivalent, edge.se(edge.equivalent)
            if dist == "normal":
                cap = design.max_seeds
                p10 = power_superiority(cap, sd, 2 * M, design.alpha)
                e10 = power_equivalence(cap, sd, M, 0.0, design.alpha)
                n = fixed_design(two.better, null.equivalent, sd, design.alpha, args.reps)
                save = ""
                if n:
                    s0, s2 = 100 * (1 - null.mean_seeds / n), 100 * (1 - two.mean_seeds / n)
                    save = f"{s0:5.0f}% {s2:5.0f}%"
                fixed = f"{p10:5.3f} {e10:5.3f} | {n or '>200':>12} {save:>13}"
            else:
                fixed = f"{'—':>13} | {'—':>12} {'':>13}"
            print(
                f"{dist:6} {ratio:4.1f} | {fpr:6.4f} ± {fpr_se:.4f} {null.equivalent:8.3f} "
                f"{null.mean_seeds:5.2f} | {two.better:9.3f} {two.mean_seeds:5.2f} | "
                f"{feq:6.4f} ± {feq_se:.4f} | {fixed}"
            )
    print(
        "\nfalse b/w @0: 'better' or 'worse' at a true difference of 0 (± Monte-Carlo SE);"
        " seeds: mean paired\nseeds used; false eq @M: 'equivalent' at a true difference of"
        " exactly the margin; n=10: a fixed\ndesign at the cap, its power at 2M and"
        " equivalence rate at 0; same-power n: the smallest fixed\ndesign with both the"
        " sequential rule's power at 2M and its equivalence rate at 0 (normal\ntheory,"
        " exact); saving: 1 − sequential mean seeds / that n, at 0 and at 2M."
    )

    reps = args.family_reps
    print(f"\nfamilies: 5 variants vs one shared baseline, Holm, {reps} replications each")
    head = (
        f"{'true diffs / M':26} {'SD/M':>4} | {'FWER b/w':>15} {'FWER eq':>8} | "
        f"{'decided per variant':28} | {'seeds: variants + base':>22} {'fixed':>5}"
    )
    print(head)
    print("─" * len(head))
    cases = [
        ((0.0, 0.0, 0.0, 0.0, 0.0), 1.0),
        ((0.0, 0.0, 0.0, 0.0, 0.0), 2.0),
        ((0.0, 0.5, -1.0, -2.0, -5.4), 1.0),
    ]
    for j, (diffs, ratio) in enumerate(cases):
        r = simulate_family(
            [x * M for x in diffs], ratio * M, M, design, reps, seed=args.seed + 1000 + j
        )
        used = sum(r.mean_seeds) + r.mean_baseline_seeds
        decided = " ".join(f"{x:.2f}" for x in r.decided)
        print(
            f"{' '.join(f'{x:+.1f}' for x in diffs):26} {ratio:4.1f} | "
            f"{r.false_different:6.4f} ± {r.se(r.false_different):.4f} "
            f"{r.false_equivalent:8.4f} | {decided:28} | {used:22.1f} "
            f"{design.max_seeds * (len(diffs) + 1):5d}"
        )
    print(
        "\nFWER b/w: share of families with ≥ 1 false 'better'/'worse' (among true"
        " differences of 0); FWER eq:\n≥ 1 false 'equivalent' (among |difference| ≥ M);"
        " seeds: mean runs used in all, against a fixed\ndesign running every arm to the cap."
        " The last row mimics MNIST-1D's default grid (subsample\n≈ −2.7 points = −5.4 M)."
    )
    print(f"\n({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
