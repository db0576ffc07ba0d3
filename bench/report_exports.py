"""What the report's "exports to ONNX" column costs: TorchScript vs dynamo export, side by side.

For each variant of the default ``compare`` grid (plus ``soft`` and ``adaptive-avg``, which
TorchScript cannot export under a symbolic batch), the MNIST-1D ``simple`` model (1x40, 10
classes) is exported and checked with :func:`poolstride.deploy.check_onnx` (no latency
timing, as in the report) by each exporter, in alternating order over ``--rounds`` rounds so
machine load hits both alike. Printed per variant: the median seconds of each exporter, the
ratio dynamo / TorchScript, and what the report's rule (TorchScript first, dynamo only where
it fails) spends; then the totals.

Usage: .venv/bin/python bench/report_exports.py [--rounds 2] [--variants max,avg,...]
(about a minute per round on a quiet 2-core machine.)
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

from poolstride.deploy.onnx_check import check_onnx
from poolstride.models import build_model

VARIANTS = "max,avg,conv,subsample,blur-max,none,soft,adaptive-avg"
EXPORTERS = ("torchscript", "dynamo")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--variants", default=VARIANTS)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    shape = (1, 40)
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    models = {v: build_model("simple", v, shape, 10) for v in variants}
    times = {(v, e): [] for v in variants for e in EXPORTERS}
    exported = {}
    for r in range(args.rounds):
        order = EXPORTERS if r % 2 == 0 else EXPORTERS[::-1]
        for v in variants:
            for exporter in order:
                start = time.perf_counter()
                row = check_onnx(models[v], shape, exporter=exporter, variant=v, timing=False)
                times[(v, exporter)].append(time.perf_counter() - start)
                exported[(v, exporter)] = row.matches
    print(f"{'variant':14} {'torchscript s':>13} {'dynamo s':>9} {'dynamo/ts':>9}  report's rule")
    total = {"torchscript": 0.0, "dynamo": 0.0, "rule": 0.0}
    for v in variants:
        ts = statistics.median(times[(v, "torchscript")])
        dy = statistics.median(times[(v, "dynamo")])
        rule = ts if exported[(v, "torchscript")] else ts + dy
        what = "torchscript" if exported[(v, "torchscript")] else "torchscript, then dynamo"
        total["torchscript"] += ts
        total["dynamo"] += dy
        total["rule"] += rule
        print(f"{v:14} {ts:13.2f} {dy:9.2f} {dy / ts:9.1f}  {rule:.2f} s ({what})")
    print(
        f"{'total':14} {total['torchscript']:13.2f} {total['dynamo']:9.2f} "
        f"{total['dynamo'] / total['torchscript']:9.1f}  {total['rule']:.2f} s"
    )


if __name__ == "__main__":
    main()
