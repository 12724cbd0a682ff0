"""What a grid's runs say: per run the mean and standard deviation over seeds with a 95 %
interval of the mean, and against the reference run a paired difference over the seeds both
finished (a seed fixes data order, initialisation and augmentation alike, so pairing removes
that part of the noise).

Intervals are Student t intervals: their half-width is 2.48 standard deviations of the runs
with 3 seeds, 1.24 with 5; one seed gives a mean and no interval.
"""
from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import yaml
from scipy import stats as scipy_stats

from vreid.errors import UserError

METRICS = ("Rank-1", "mAP")
CHANCE = {m: f"chance_{m}" for m in METRICS}
LEVEL = 0.95

RunMetrics = dict[str, dict[str, float]]  # protocol -> metric -> value


def evaluations(path: str) -> list[RunMetrics]:
    """Every evaluation a run's ``metrics.json`` holds, in order. fast-reid writes one JSON object
    per line; an evaluation line has ``<protocol>/Rank-1`` per protocol or, for a run with a
    single test protocol, a bare ``Rank-1`` (named here from the run's ``config.yaml``)."""
    found: list[RunMetrics] = []
    single = _single_protocol(path)
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                evaluation = _by_protocol(json.loads(line), single)
                if evaluation:
                    found.append(evaluation)
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from e
    except json.JSONDecodeError as e:
        raise UserError(f"{path}: line {e.lineno} is not JSON; re-run that run") from e
    if not found:
        raise UserError(f"{path} holds no evaluation: the run never reached TEST.EVAL_PERIOD or its last epoch")
    return found


_EVALUATION_KEY = re.compile(r"^(Rank-\d+|mAP|mINP|metric|chance_.+|num_queries)$")


def _single_protocol(path: str) -> str:
    """The test protocol of a one-protocol run, from the config.yaml the trainer wrote beside its
    metrics.json; "test" when there is none to read."""
    try:
        with open(os.path.join(os.path.dirname(path), "config.yaml"), encoding="utf-8") as f:
            tests = (yaml.safe_load(f) or {}).get("DATASETS", {}).get("TESTS") or ["test"]
    except (OSError, yaml.YAMLError):
        return "test"
    return str(tests[0])


def _by_protocol(record: dict, single: str) -> RunMetrics:
    """protocol -> metric of one metrics.json line; empty for a line that is no evaluation. Other
    slashed keys (a probe's ``probe/...``) are not protocols: a protocol has a Rank-1."""
    found: RunMetrics = {}
    for key, value in record.items():
        protocol, _, metric = key.rpartition("/")
        if not protocol and _EVALUATION_KEY.match(metric):
            protocol = single
        if protocol:
            found.setdefault(protocol, {})[metric] = float(value)
    return {p: metrics for p, metrics in found.items() if "Rank-1" in metrics}


def final_metrics(path: str) -> RunMetrics:
    """The last evaluation of a run. The last, not the best: choosing the best epoch on the test
    protocol would bias every run upward, the noisy ones most."""
    return evaluations(path)[-1]


def last_change(path: str) -> RunMetrics:
    """The last evaluation minus the one before it, per protocol and metric; empty for a run
    evaluated once. Over seeds, a change whose interval holds 0 says the schedule had converged
    for that metric by its second-to-last evaluation."""
    return _last_change(evaluations(path))


def _last_change(history: Sequence[RunMetrics]) -> RunMetrics:
    if len(history) < 2:
        return {}
    last, before = history[-1], history[-2]
    return {p: {m: v - before[p][m] for m, v in metrics.items() if m in before.get(p, {})}
            for p, metrics in last.items() if p in before}


@dataclass(frozen=True)
class Estimate:
    """Mean over n values, their standard deviation and the 95 % interval of the mean (sd and
    interval are NaN for n = 1)."""

    mean: float
    sd: float
    low: float
    high: float
    n: int


def estimate(values: Sequence[float]) -> Estimate:
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        raise ValueError("no values")
    mean = float(x.mean())
    if x.size == 1:
        return Estimate(mean, math.nan, math.nan, math.nan, 1)
    sd = float(x.std(ddof=1))
    half = float(scipy_stats.t.ppf(0.5 + LEVEL / 2, x.size - 1)) * sd / math.sqrt(x.size)
    return Estimate(mean, sd, mean - half, mean + half, int(x.size))


@dataclass(frozen=True)
class Row:
    """One run of the grid on one protocol."""

    run: str
    protocol: str
    seeds: tuple[int, ...]
    metrics: dict[str, Estimate]  # metric -> over seeds
    chance: dict[str, float]  # metric -> the chance level of a random ranking
    vs_reference: dict[str, Estimate] | None  # metric -> paired difference run - reference
    change: dict[str, Estimate] | None = None  # metric -> last evaluation minus the one before
    # other reference -> metric -> paired difference run - that reference (None: the run is that
    # reference, or no seed of theirs is shared); None for a grid with one reference
    vs_others: dict[str, dict[str, Estimate] | None] | None = None
    # metric -> paired difference run - the run above it, in a grid that is a path (one change per
    # run); None for the first run, a run sharing no seed with the one above, or a grid of another kind
    vs_previous: dict[str, Estimate] | None = None


def _paired(results: Mapping[int, RunMetrics], reference: Mapping[int, RunMetrics], protocol: str,
            metric: str) -> Estimate | None:
    seeds = sorted(s for s in results if s in reference and protocol in reference[s])
    if not seeds:
        return None
    return estimate([results[s][protocol][metric] - reference[s][protocol][metric] for s in seeds])


def _change(by_seed: Mapping[int, RunMetrics], protocol: str) -> dict[str, Estimate] | None:
    seeds = [s for s, m in by_seed.items() if all(metric in m.get(protocol, {}) for metric in METRICS)]
    if not seeds:
        return None
    return {metric: estimate([by_seed[s][protocol][metric] for s in seeds]) for metric in METRICS}


def _versus(run: str, by_seed: Mapping[int, RunMetrics], reference: str,
            results: Mapping[str, Mapping[int, RunMetrics]], protocol: str) -> dict[str, Estimate] | None:
    """metric -> paired difference ``run`` - ``reference``; None for the reference itself or
    when the two share no finished seed."""
    if not reference or run == reference or not results.get(reference):
        return None
    paired = {metric: _paired(by_seed, results[reference], protocol, metric) for metric in METRICS}
    return paired if all(v is not None for v in paired.values()) else None


def summarise(results: Mapping[str, Mapping[int, RunMetrics]], reference: str = "",
              changes: Mapping[str, Mapping[int, RunMetrics]] | None = None,
              others: Sequence[str] = (), path: bool = False) -> list[Row]:
    """``results[run][seed]`` -> one row per run and protocol, in the runs' order; ``changes``
    (``last_change`` per run and seed) adds each row's change over the last evaluation period,
    over the seeds evaluated more than once; ``others`` are further references, each row paired
    against each of them too (``Row.vs_others``); ``path``: each row is paired against the run
    above it too (``Row.vs_previous``), what its one change is worth at that point of the path."""
    rows = []
    above = dict(zip(list(results)[1:], results)) if path else {}
    for run, by_seed in results.items():
        if not by_seed:
            continue
        protocols = sorted({p for m in by_seed.values() for p in m})
        for protocol in protocols:
            seeds = tuple(sorted(s for s, m in by_seed.items() if protocol in m))
            values = {metric: estimate([by_seed[s][protocol][metric] for s in seeds]) for metric in METRICS}
            chance = {metric: by_seed[seeds[0]][protocol].get(CHANCE[metric], math.nan) for metric in METRICS}
            paired = _versus(run, by_seed, reference, results, protocol)
            versus = {other: _versus(run, by_seed, other, results, protocol) for other in others} if others else None
            previous = _versus(run, by_seed, above[run], results, protocol) if run in above else None
            rows.append(Row(run, protocol, seeds, values, chance, paired, _change((changes or {}).get(run, {}), protocol),
                            versus, previous))
    return rows


def collect(folders: Mapping[str, Mapping[int, str]]
            ) -> tuple[dict[str, dict[int, RunMetrics]], dict[str, dict[int, RunMetrics]]]:
    """``folders[run][seed]`` (finished runs' output folders) -> their final metrics and their
    change over the last evaluation period (``last_change``), each metrics.json read once."""
    finals: dict[str, dict[int, RunMetrics]] = {}
    changes: dict[str, dict[int, RunMetrics]] = {}
    for run, by_seed in folders.items():
        histories = {seed: evaluations(os.path.join(folder, "metrics.json")) for seed, folder in by_seed.items()}
        finals[run] = {seed: history[-1] for seed, history in histories.items()}
        changes[run] = {seed: _last_change(history) for seed, history in histories.items()}
    return finals, changes
