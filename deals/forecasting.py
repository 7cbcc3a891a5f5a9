"""Pure forecasting over monthly numbers: no database, no Django. Used by the nightly snapshot
run (deals.services.forecasts) and unit-tested on synthetic series.

Two methods are always compared:
- **seasonal naive**: next January = last January (the baseline every forecast must beat);
  with less than a year of history it is the mean of the last three months;
- **Holt-Winters** (additive damped trend, additive yearly seasonality) when there are at least
  `min_months_for_model` months with enough non-zero months; additive because revenue can be
  zero or negative (returns) in a month. The total is fitted by statsmodels
  (`ExponentialSmoothing`, optimised constants); partners use the same model with fixed
  constants so 10,000 of them fit in the nightly window.

Both are **back-tested** by rolling origin over the last `backtest_periods` months (origins
every `step` months, each forecasting the next `step` months from the history before it). The
error is MAPE, or WAPE when some actual month is near zero (MAPE divides by it). The method with
the smaller error is chosen; ties and undefined errors keep the seasonal naive baseline.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

SEASON = 12

NAIVE = "seasonal_naive"
MODEL = "holt_winters"


@dataclass(frozen=True)
class ForecastResult:
    method: str  # NAIVE or MODEL: the one `forecast` comes from
    forecast: list[float]
    naive: list[float]
    model: list[float] | None  # None when the history is too short or the fit failed
    metric: str  # "mape" or "wape"
    naive_error: float | None  # fraction (0.12 = 12 %); None when it cannot be measured
    model_error: float | None


def seasonal_naive(history: Sequence[float], horizon: int, season: int = SEASON) -> list[float]:
    """y[t+h] = y[t+h-season·k] (the same month of the last year with data)."""
    values = [float(v) for v in history]
    if horizon <= 0:
        return []
    if len(values) < season:
        tail = values[-3:] or [0.0]
        level = sum(tail) / len(tail)
        return [level] * horizon
    n = len(values)
    return [values[n - season + (h % season)] for h in range(horizon)]


# Smoothing constants for the cheap per-partner fit (no optimiser): a slowly moving level, a
# very slow and damped trend, a moderately adaptive seasonal pattern. With fixed constants the
# model is a few lines of arithmetic (`_holt_winters_fixed`, microseconds), which is what lets
# 10,000 partners be back-tested and forecast in the nightly window; the total series, one per
# night, is fitted by statsmodels with its optimiser.
FIXED_PARAMS = {"smoothing_level": 0.3, "smoothing_trend": 0.05, "smoothing_seasonal": 0.2, "damping_trend": 0.9}


def _holt_winters_fixed(y: list[float], horizon: int, season: int) -> list[float]:
    """Additive damped-trend Holt-Winters with FIXED_PARAMS (the textbook recursions, the same
    model statsmodels fits): level and trend start from the first two seasons' means, the
    seasonal indices from the first season's deviations."""
    alpha, beta = FIXED_PARAMS["smoothing_level"], FIXED_PARAMS["smoothing_trend"]
    gamma, phi = FIXED_PARAMS["smoothing_seasonal"], FIXED_PARAMS["damping_trend"]
    first, second = y[:season], y[season : 2 * season]
    level = sum(first) / season
    trend = (sum(second) / season - level) / season
    seasonal = [v - level for v in first]
    for t in range(season, len(y)):
        s_old = seasonal[t % season]
        previous_level = level
        level = alpha * (y[t] - s_old) + (1 - alpha) * (previous_level + phi * trend)
        trend = beta * (level - previous_level) + (1 - beta) * phi * trend
        seasonal[t % season] = gamma * (y[t] - previous_level - phi * trend) + (1 - gamma) * s_old
    out, damp = [], 0.0
    for h in range(1, horizon + 1):
        damp += phi**h
        out.append(level + damp * trend + seasonal[(len(y) + h - 1) % season])
    return out


def holt_winters(
    history: Sequence[float], horizon: int, season: int = SEASON, *, optimize: bool = False
) -> list[float] | None:
    """Holt-Winters forecast, or None when the history is too short (two seasons) or the fit
    fails. `optimize` fits the smoothing constants with statsmodels (~100 ms); otherwise
    FIXED_PARAMS are used."""
    values = [float(v) for v in history]
    if len(values) < 2 * season or horizon <= 0:
        return None
    if not all(math.isfinite(v) for v in values):
        return None
    if all(v == values[0] for v in values):
        return [values[0]] * horizon  # nothing to fit: a constant stays constant
    if not optimize:
        out = _holt_winters_fixed(values, horizon, season)
        return out if all(math.isfinite(v) for v in out) else None
    import numpy as np
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = ExponentialSmoothing(
                np.asarray(values, dtype=float),
                trend="add",
                damped_trend=True,
                seasonal="add",
                seasonal_periods=season,
                initialization_method="heuristic",
            )
            out = model.fit().forecast(horizon)
    except Exception:  # noqa: BLE001 — any numerical failure means "no model", the baseline stays
        return None
    if not np.isfinite(out).all():
        return None
    return [float(v) for v in out]


def mape(actuals: Sequence[float], predictions: Sequence[float]) -> float | None:
    pairs = [(a, p) for a, p in zip(actuals, predictions, strict=True) if a != 0]
    if not pairs:
        return None
    return sum(abs(a - p) / abs(a) for a, p in pairs) / len(pairs)


def wape(actuals: Sequence[float], predictions: Sequence[float]) -> float | None:
    denominator = sum(abs(a) for a in actuals)
    if denominator == 0:
        return None
    return sum(abs(a - p) for a, p in zip(actuals, predictions, strict=True)) / denominator


def metric_for(actuals: Sequence[float]) -> str:
    """MAPE unless an actual is near zero (below 5 % of the mean absolute value), then WAPE."""
    if not actuals:
        return "wape"
    scale = sum(abs(a) for a in actuals) / len(actuals)
    if scale == 0 or any(abs(a) < 0.05 * scale for a in actuals):
        return "wape"
    return "mape"


def backtest(
    history: Sequence[float], method, *, periods: int = 6, step: int = 3, season: int = SEASON
) -> tuple[list[float], list[float]] | None:
    """Rolling-origin back-test of `method(history, horizon, season)` over the last `periods`
    months: (actuals, predictions), or None when the method cannot forecast from some origin."""
    values = [float(v) for v in history]
    n = len(values)
    if n < periods + 1:
        return None
    actuals: list[float] = []
    predictions: list[float] = []
    for origin in range(n - periods, n, step):
        horizon = min(step, n - origin)
        predicted = method(values[:origin], horizon, season)
        if predicted is None:
            return None
        actuals.extend(values[origin : origin + horizon])
        predictions.extend(predicted)
    return actuals, predictions


def _error(metric: str, actuals, predictions) -> float | None:
    value = mape(actuals, predictions) if metric == "mape" else wape(actuals, predictions)
    return None if value is None or math.isnan(value) else round(value, 4)


def is_dense(history: Sequence[float], *, min_months: int, season: int = SEASON) -> bool:
    """Enough history for a seasonal model: `min_months` months, at least a year of them non-zero."""
    return len(history) >= max(min_months, 2 * season) and sum(1 for v in history if v) >= season


def forecast_series(
    history: Sequence[float],
    horizon: int,
    *,
    backtest_periods: int = 6,
    min_months_for_model: int = 24,
    season: int = SEASON,
    optimize: bool = False,
) -> ForecastResult:
    """Forecast `horizon` months after `history` (complete months, oldest first) with both
    methods, back-test them, and pick the better one (see module docstring)."""
    values = [float(v) for v in history]
    naive = seasonal_naive(values, horizon, season)
    dense = is_dense(values, min_months=min_months_for_model, season=season)
    naive_bt = backtest(values, seasonal_naive, periods=backtest_periods, season=season)
    model_fn = partial(holt_winters, optimize=optimize)
    model_bt = backtest(values, model_fn, periods=backtest_periods, season=season) if dense else None
    reference = naive_bt or model_bt
    metric = metric_for(reference[0]) if reference else "wape"
    naive_error = _error(metric, *naive_bt) if naive_bt else None
    model = model_fn(values, horizon, season) if dense else None
    model_error = _error(metric, *model_bt) if model_bt and model is not None else None
    use_model = model is not None and model_error is not None and (naive_error is None or model_error < naive_error)
    return ForecastResult(
        method=MODEL if use_model else NAIVE,
        forecast=model if use_model else naive,
        naive=naive,
        model=model,
        metric=metric,
        naive_error=naive_error,
        model_error=model_error,
    )
