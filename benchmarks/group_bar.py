"""The group issue's bar, per set and seed, from ``bench_groups.py`` JSON results.

For each set: CE, the blends and AutoBalance ``objective="deo"`` (row ``ab_deo``),
mean ± std over seeds of the test DEO and group-balanced error (%), and per seed
the ratio of AutoBalance's DEO to the reference's and the difference of their
group-balanced errors. The reference is CE, unless CE is degenerate (its
worst-cell error is at least 60 %: it misses most of a cell, so its DEO is small
by degeneracy); then it is the blend with the lowest mean DEO among the
non-degenerate blends (same criterion). The bar: mean DEO at most 0.75x the
reference's, mean group-balanced error at most CE's + 1 point.

Usage::

    python benchmarks/group_bar.py benchmarks/results/groups_v2.json \\
        benchmarks/results/groups_v2_mlp.json:waterbirds_like_mlp
"""

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

BLENDS = ("blend_deo", "blend_gb", "blend_gla")
DEGENERATE_WORST_CELL = 60.0


def load(specs):
    """``{set: {row: {seed: result}}}`` from ``path`` or ``path:renamed_set`` specs."""
    table = {}
    for spec in specs:
        path, _, rename = spec.partition(":")
        for r in json.loads(Path(path).read_text())["results"]:
            name = rename or r["set"]
            table.setdefault(name, {}).setdefault(r["row"], {})[r["seed"]] = r
    return table


def _mean(rows, key):
    return float(np.mean([r[key] for r in rows.values()]))


def summary(table, row="ab_deo"):
    lines, verdicts = [], []
    for name, rows in table.items():
        if row not in rows or "ce" not in rows:
            continue
        seeds = sorted(set(rows[row]) & set(rows["ce"]))
        ce_degenerate = _mean(rows["ce"], "worst_cell_error") >= DEGENERATE_WORST_CELL
        reference = "ce"
        if ce_degenerate:
            blends = [b for b in BLENDS if b in rows
                      and _mean(rows[b], "worst_cell_error") < DEGENERATE_WORST_CELL]
            if blends:
                reference = min(blends, key=lambda b: _mean(rows[b], "deo"))
        ab, ref, ce = rows[row], rows[reference], rows["ce"]

        def stat(rs, key):
            v = [rs[s][key] for s in seeds]
            return f"{np.mean(v):.2f} ± {np.std(v, ddof=1) if len(v) > 1 else 0:.2f}"

        ratios = [ab[s]["deo"] / ref[s]["deo"] if ref[s]["deo"] > 0 else np.inf for s in seeds]
        gbe_diff = [ab[s]["group_balanced_error"] - ce[s]["group_balanced_error"] for s in seeds]
        mean_ratio = np.mean([ab[s]["deo"] for s in seeds]) / max(
            np.mean([ref[s]["deo"] for s in seeds]), 1e-12)
        met = mean_ratio <= 0.75 and np.mean(gbe_diff) <= 1.0
        wins = sum(ab[s]["deo"] < ref[s]["deo"] for s in seeds)
        lines.append([name, reference + (" (CE degenerate)" if ce_degenerate else ""),
                      stat(ce, "deo"), stat(ce, "group_balanced_error"),
                      stat(ref, "deo") if reference != "ce" else "—",
                      stat(ab, "deo"), stat(ab, "group_balanced_error"),
                      f"{mean_ratio:.2f}", ", ".join(f"{x:.2f}" for x in ratios),
                      ", ".join(f"{x:+.1f}" for x in gbe_diff), f"{wins}/{len(seeds)}",
                      "met" if met else "not met"])
        verdicts.append(met)
    header = ["set", "reference", "CE DEO", "CE GBE", "reference DEO", "AB DEO", "AB GBE",
              "DEO ratio (means)", "DEO ratio per seed", "GBE - CE's per seed",
              "seeds with lower DEO", "bar"]
    return _common.markdown_table(header, lines) + (
        f"\n\nBar met on {sum(verdicts)} of {len(verdicts)} sets.\n")


if __name__ == "__main__":
    print(summary(load(sys.argv[1:])))
