"""Ceiling clipping: a hard cap, with nothing above it for weeks where the covariates say there
should have been.

Targets values above a cap (a limit, or a value comfortably below it) being replaced by values
just under the cap. A capped series keeps its bulk but loses its top: for weeks its maximum sits at
one value while the neighbours (ambient) or the unit load (flue gas) call for higher values.

Notes
-----
The station's log residual against its covariate model (neighbours, or the load curve) has an
empirical distribution learned from its history, with an exponential upper tail beyond the 99th
percentile. For a stretch of whole weeks with maximum ``C``, the expected number of hours above
``C`` is ``lambda = sum_t P(r_t > log(C + c) - e_t - s)``, where ``s`` is the stretch's median
residual (so a level shift or a scaled slope, which lower everything, does not read as a cap).
Exceedances cluster, so ``lambda`` is multiplied by the extremal index ``theta`` (reciprocal of
the mean cluster size of exceedances of the residual's 95th percentile; Leadbetter 1983; Ferro &
Segers 2003 use the same idea). Under the model the probability of no exceedance is
``exp(-theta lambda)``; this is the probability-integral transform of the stretch maximum, so it is
uniform under the null and its smallness is the evidence. Stretches of one to thirteen weeks are
scanned; the expected number of null stretches per year this extreme is the probability times the
number of stretches tested per year.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from envtrace.detect.errors import InvalidParameter
from envtrace.detect.evidence import Evidence, plot_series
from envtrace.detect.robust import (
    ExcursionTail,
    FloatArray,
    IntArray,
    fit_excursion_tail,
    runs,
    score_from_expected,
)

BLOCK_DAYS = 7
MAX_BLOCKS = 13
QUANTILES = np.linspace(0.0, 1.0, 201)
TAIL_P = 0.99
BASE = 5.0
ALIGNMENTS = 1
#: The tail a correct residual law gives the stretch statistic (until one is calibrated).
NO_TAIL = ExcursionTail(0.0, 1.0, 1.0)
LEVEL_BINS = 4
CAP_GRID = 96


@dataclass(frozen=True, slots=True)
class ClipBaseline:
    """Residual quantiles (probabilities :data:`QUANTILES`) in bins of the expected level,
    upper-tail scales and the extremal index.

    Conditioning on the expected level matters: where the covariates call for extreme values a
    station's log ratio to them is compressed, so a single residual law overstates how far it
    should exceed them.
    """

    edges: tuple[float, ...]
    quantiles: tuple[tuple[float, ...], ...]
    tail_beta: tuple[float, ...]
    theta: float
    tail: ExcursionTail = NO_TAIL

    def survival(self, u: FloatArray, level: FloatArray) -> FloatArray:
        """P(residual > u) at expected log levels ``level``."""
        k = np.searchsorted(np.asarray(self.edges), level, side="right")
        out = np.zeros(len(u))
        for b in range(len(self.quantiles)):
            sel = k == b
            if not sel.any():
                continue
            q = np.asarray(self.quantiles[b])
            ub = u[sel]
            surv = 1.0 - np.interp(ub, q, QUANTILES)
            top = float(np.interp(TAIL_P, QUANTILES, q))
            tail = (1.0 - TAIL_P) * np.exp(-(ub - top) / self.tail_beta[b])
            out[sel] = np.where(ub > top, np.minimum(tail, 1.0 - TAIL_P), surv)
        return out

    def to_dict(self) -> dict[str, object]:
        return {
            "edges": list(self.edges),
            "quantiles": [list(q) for q in self.quantiles],
            "tail_beta": list(self.tail_beta),
            "theta": self.theta,
            "tail": self.tail.to_list(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> ClipBaseline:
        def floats(x: object) -> tuple[float, ...]:
            return tuple(float(v) for v in x) if isinstance(x, list) else ()

        q = d["quantiles"]
        return cls(
            floats(d["edges"]),
            tuple(floats(r) for r in q) if isinstance(q, list) else (),
            floats(d["tail_beta"]),
            float(str(d["theta"])),
            ExcursionTail.from_list(floats(d["tail"])),
        )


def fit_clip(resid: FloatArray, expected: FloatArray) -> ClipBaseline | None:
    """Learn the residual law by expected-level bin and the extremal index; None with under 500
    residuals."""
    ok = np.isfinite(resid) & np.isfinite(expected)
    r = resid[ok]
    if r.size < 500:
        return None
    nb = max(1, min(LEVEL_BINS, r.size // 500))
    edges = np.unique(np.quantile(expected[ok], np.linspace(0, 1, nb + 1)[1:-1]))
    k = np.searchsorted(edges, expected[ok], side="right")
    qs: list[tuple[float, ...]] = []
    betas: list[float] = []
    for b in range(len(edges) + 1):
        rb = r[k == b]
        if rb.size < 50:
            rb = r
        qs.append(tuple(float(x) for x in np.quantile(rb, QUANTILES)))
        top = float(np.quantile(rb, TAIL_P))
        exc = rb[rb > top] - top
        betas.append(max(float(exc.mean()) if exc.size else 0.1, 1e-3))
    q95 = float(np.quantile(r, 0.95))
    above = np.isfinite(resid) & (resid > q95)
    s, _ = runs(above)
    theta = min(1.0, max(0.05, len(s) / max(1, int(np.count_nonzero(above)))))
    return ClipBaseline(tuple(float(x) for x in edges), tuple(qs), tuple(betas), theta)


def fit_clip_tail(
    values: FloatArray,
    log_values: FloatArray,
    expected: FloatArray,
    baseline: ClipBaseline,
    *,
    shift: float,
    step: int,
    years: float,
    t0: int = 0,
) -> ClipBaseline:
    """Calibrate the stretch statistic ``T`` on the station's own history: the tail of ``T``
    beyond :data:`BASE` over its non-overlapping stretches (peaks over threshold; a correct
    residual law gives an exponential of scale 1, which is the prior)."""
    cands = clip_candidates(values, log_values, expected, baseline, shift=shift, step=step, t0=t0)
    tail = fit_excursion_tail([t - BASE for t, *_ in cands], years, prior_beta=1.0)
    return ClipBaseline(baseline.edges, baseline.quantiles, baseline.tail_beta, baseline.theta, tail)


def clip_candidates(
    values: FloatArray,
    log_values: FloatArray,
    expected: FloatArray,
    baseline: ClipBaseline,
    *,
    shift: float,
    step: int,
    t0: int = 0,
) -> list[tuple[float, int, int, float, float]]:
    """Every stretch of 1..13 whole weeks with its evidence ``T = theta * lambda`` for its cap:
    ``(T, start, stop, cap, lambda)``, best first, non-overlapping.

    Weeks are aligned to absolute time (Unix weeks; ``t0`` is the time of index 0), so that a
    live window and a batch run cut the same weeks.
    """
    per_block = max(1, BLOCK_DAYS * 86400 // step)
    found: list[tuple[float, int, int, float, float]] = []
    for phase in range(ALIGNMENTS):
        # weeks starting on two fixed phases of absolute time (a cap need not start on a Thursday)
        first = int((-(t0 // step) + phase * per_block // ALIGNMENTS) % per_block)
        part = _candidates(
            values[first:], log_values[first:], expected[first:], baseline, shift=shift, per_block=per_block
        )
        found += [(t - math.log(ALIGNMENTS), a + first, b + first, cap, lam) for t, a, b, cap, lam in part]
    out: list[tuple[float, int, int, float, float]] = []
    for t, a, b, cap, lam in sorted(found, reverse=True):
        if any(a < ob and b > oa for _, oa, ob, _, _ in out):
            continue
        out.append((t, a, b, cap, lam))
    return out


def _candidates(
    values: FloatArray,
    log_values: FloatArray,
    expected: FloatArray,
    baseline: ClipBaseline,
    *,
    shift: float,
    per_block: int,
) -> list[tuple[float, int, int, float, float]]:
    n_blocks = len(values) // per_block
    if n_blocks == 0:
        return []
    resid = log_values - expected
    del log_values
    vb = values[: n_blocks * per_block].reshape(n_blocks, per_block)
    with np.errstate(invalid="ignore"):
        bmax = np.where(
            np.isfinite(vb).any(axis=1), np.nanmax(np.where(np.isfinite(vb), vb, -np.inf), axis=1), np.nan
        )
    # per-block median residual: a level shift or a scaled slope lowers everything, not a cap
    rb = resid[: n_blocks * per_block].reshape(n_blocks, per_block)
    okb = np.isfinite(rb)
    shift_b = np.array(
        [
            float(np.median(rb[i][okb[i]])) if okb[i].sum() >= per_block // 2 else np.nan
            for i in range(n_blocks)
        ]
    )
    # lambda of every block on a grid of caps (log scale), in one vectorised pass
    fin_v = values[: n_blocks * per_block]
    lv = np.log(np.maximum(fin_v[np.isfinite(fin_v)], 0.0) + shift)
    if lv.size == 0:
        return []
    grid = np.linspace(float(lv.min()), float(lv.max()) + 0.05, CAP_GRID)
    e_hours = expected[: n_blocks * per_block]
    sh = np.repeat(shift_b, per_block)
    ok_h = np.isfinite(e_hours) & np.isfinite(sh) & np.isfinite(fin_v)
    lam_grid = np.zeros((n_blocks, CAP_GRID))
    idx = np.flatnonzero(ok_h)
    if idx.size:
        u = grid[None, :] - (e_hours[idx] + sh[idx])[:, None]
        surv = baseline.survival(u.ravel(), np.repeat(e_hours[idx], CAP_GRID)).reshape(u.shape)
        np.add.at(lam_grid, idx // per_block, surv)

    cum = np.vstack([np.zeros(CAP_GRID), np.cumsum(lam_grid, axis=0)])

    found: list[tuple[float, int, int, float, float]] = []
    for i in range(n_blocks):
        if not (math.isfinite(bmax[i]) and math.isfinite(shift_b[i])):
            continue
        cap = -math.inf
        for j in range(i, min(n_blocks, i + MAX_BLOCKS)):
            if math.isfinite(bmax[j]):
                cap = max(cap, float(bmax[j]))
            lam = float(np.interp(math.log(max(cap, 0.0) + shift), grid, cum[j + 1] - cum[i]))
            t = baseline.theta * lam
            if t > BASE:
                found.append((t, i * per_block, (j + 1) * per_block, cap, lam))
    out: list[tuple[float, int, int, float, float]] = []
    for t, a, b, cap, lam in sorted(found, reverse=True):
        if any(a < ob and b > oa for _, oa, ob, _, _ in out):
            continue
        out.append((t, a, b, cap, lam))
    return out


def ceiling_clip(
    times: IntArray,
    values: FloatArray,
    log_values: FloatArray,
    expected: FloatArray,
    baseline: ClipBaseline,
    *,
    shift: float,
    station: str,
    parameters: Sequence[str],
    covariate: str,
    budget_per_year: float = 1e-3,
) -> list[Evidence]:
    """Stretches of whole weeks whose maximum is a cap the covariates say should be exceeded.

    ``log_values`` is ``log(values + shift)`` and ``expected`` the covariate model's expected log
    level (NaN where unknown); ``covariate`` names it in the reason ("neighbours", "unit load").

    Raises
    ------
    InvalidParameter
        when ``budget_per_year`` is not positive.
    """
    if budget_per_year <= 0:
        raise InvalidParameter("budget_per_year", budget_per_year, "a positive expected count")
    step = int(times[1] - times[0]) if len(times) > 1 else 3600
    out: list[Evidence] = []
    t0 = int(times[0]) if len(times) else 0
    for t, a, b, cap, lam in clip_candidates(
        values, log_values, expected, baseline, shift=shift, step=step, t0=t0
    ):
        e = baseline.tail.expected_per_year(t - BASE)
        if e > budget_per_year:
            continue
        near = np.flatnonzero(np.nan_to_num(values[a:b]) >= 0.85 * cap)
        lo, hi = (a + int(near[0]), a + int(near[-1]) + 1) if near.size else (a, b)
        out.append(
            Evidence(
                detector="ceiling_clip",
                station=station,
                parameters=tuple(parameters),
                start=int(times[lo]),
                end=int(times[hi - 1]) + step,
                pattern="ceiling_clip",
                kind="fraud",
                score=score_from_expected(e),
                statistic=lam,
                baseline=cap,
                threshold=budget_per_year,
                reason_en=(
                    f"{parameters[0]} never exceeded {cap:.4g} for {(b - a) * step / 86400:.0f} days "
                    "although the "
                    f"{covariate} called for about {lam:.0f} hours above it; a cap this tight is expected "
                    f"{e:.2g} times per station-year"
                ),
                reason_zh=(
                    f"{parameters[0]}在{(b - a) * step / 86400:.0f}天内从未超过{cap:.4g}，"
                    f"而按{_zh(covariate)}"
                    f"应有约{lam:.0f}小时高于该值；如此严格的上限每站每年预计仅出现{e:.2g}次"
                ),
                expected_per_year=e,
                plots=(plot_series(parameters[0], times, values, lo - 48, hi + 48),),
            )
        )
    return out


def _zh(covariate: str) -> str:
    return {"neighbours": "邻近站点", "unit load": "机组负荷"}.get(covariate, covariate)
