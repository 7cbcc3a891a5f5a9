"""Pure forecasting functions on synthetic series (no database)."""

import math
import random
import statistics

from deals import forecasting


def seasonal_series(months=48, seed=7):
    rng = random.Random(seed)
    return [1000 + 25 * t + 400 * math.sin(2 * math.pi * t / 12) + rng.gauss(0, 25) for t in range(months)]


def flat_series(months=48, seed=3):
    rng = random.Random(seed)
    return [5000 + rng.gauss(0, 50) for _ in range(months)]


def test_seasonal_naive_repeats_last_year():
    history = list(range(24))
    assert forecasting.seasonal_naive(history, 14) == [12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 12, 13]


def test_seasonal_naive_short_history_is_the_recent_mean():
    assert forecasting.seasonal_naive([10, 20, 30, 60], 3) == [110 / 3] * 3
    assert forecasting.seasonal_naive([], 2) == [0.0, 0.0]


def test_error_metrics():
    assert forecasting.mape([100, 200], [110, 180]) == (0.1 + 0.1) / 2
    assert forecasting.wape([100, 0], [110, 10]) == 20 / 100
    assert forecasting.mape([0, 0], [1, 1]) is None
    assert forecasting.metric_for([100, 120, 90]) == "mape"
    assert forecasting.metric_for([100, 0, 90]) == "wape"  # MAPE would divide by zero


def test_backtest_is_rolling_origin():
    calls = []

    def method(history, horizon, season):
        calls.append((len(history), horizon))
        return [history[-1]] * horizon

    actuals, predictions = forecasting.backtest(list(range(30)), method, periods=6, step=3)
    assert calls == [(24, 3), (27, 3)]
    assert actuals == [24, 25, 26, 27, 28, 29]
    assert predictions == [23, 23, 23, 26, 26, 26]


def test_seasonal_model_beats_naive_on_seasonal_series_with_trend():
    result = forecasting.forecast_series(seasonal_series(), 12)
    assert result.model is not None
    assert result.metric == "mape"
    assert result.model_error < result.naive_error
    assert result.method == forecasting.MODEL
    assert result.forecast == result.model
    # The forecast follows the season: next peak (t=51, sin=1) well above the next trough (t=57).
    horizon_start = 48
    peak, trough = 51 - horizon_start, 57 - horizon_start
    assert result.forecast[peak] - result.forecast[trough] > 500


def test_optimised_fit_also_beats_naive():
    result = forecasting.forecast_series(seasonal_series(seed=11), 12, optimize=True)
    assert result.method == forecasting.MODEL and result.model_error < result.naive_error


def test_flat_series_does_not_invent_seasonality():
    history = flat_series()
    result = forecasting.forecast_series(history, 12)
    assert result.model is not None
    level = statistics.mean(history)
    # The model's forecast is flat: its spread is within the noise, not a seasonal swing.
    assert max(result.model) - min(result.model) < 0.05 * level
    assert all(abs(v - level) < 0.05 * level for v in result.forecast)


def test_sparse_history_falls_back_to_naive():
    history = [0] * 20 + [100, 0, 50]
    result = forecasting.forecast_series(history, 6)
    assert result.model is None and result.model_error is None
    assert result.method == forecasting.NAIVE
    assert result.metric == "wape"


def test_constant_series_is_forecast_constant():
    result = forecasting.forecast_series([250.0] * 36, 4)
    assert result.forecast == [250.0] * 4
