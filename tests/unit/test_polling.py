"""The polling schedule, as a pure function."""

from __future__ import annotations

import random
from itertools import islice

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seedance_nb._polling import PollPlan, detection_target, expected_duration, poll_delays, poll_times


def test_without_history_waits_grow_to_the_cap() -> None:
    waits = list(islice(poll_delays(jitter=0.0), 12))
    assert waits[0] == 2.0 and waits == sorted(waits) and max(waits) == PollPlan().cap


def test_learned_schedule_meets_the_three_minute_target() -> None:
    for seed in range(50):
        rng = random.Random(seed).random
        history = [random.Random(seed + i).uniform(165, 195) for i in range(20)]
        end = random.Random(-seed).uniform(170, 190)
        times = poll_times(poll_delays(history, rng=rng), until=end)
        target = detection_target(expected_duration(history) or 0.0)
        assert len(times) <= 15 and times[-1] - end <= target, (seed, len(times), times[-1] - end)


def p95(values: list[float]) -> float:
    return sorted(values)[int(0.95 * len(values)) - 1]


@pytest.mark.parametrize(("typical", "spread"), [(8.0, 0.3), (30.0, 1.5), (180.0, 8.0), (600.0, 30.0)])
def test_detection_at_p95_is_within_max_1s_or_10_percent(typical: float, spread: float) -> None:
    rng = random.Random(int(typical))
    counts, delays = [], []
    for _ in range(400):
        history = [rng.gauss(typical, spread) for _ in range(20)]
        end = rng.gauss(typical, spread)
        times = poll_times(poll_delays(history, rng=rng.random), until=end)
        counts.append(len(times))
        delays.append(times[-1] - end)
    assert p95(delays) <= detection_target(typical), (typical, p95(delays))
    if typical == 180.0:
        assert p95(counts) <= 15, p95(counts)  # the 3-minute job target


def test_dense_waits_scale_with_the_expected_running_time() -> None:
    plan = PollPlan()
    assert plan.dense(8.0) == plan.dense_min and plan.dense(180.0) == pytest.approx(10.8)
    assert plan.dense(10_000.0) == plan.long_step
    assert detection_target(5.0) == 1.0 and detection_target(180.0) == 18.0


def test_learning_beats_a_fixed_five_second_poll() -> None:
    fixed = poll_times(iter([5.0] * 1000), until=180)
    learned = poll_times(poll_delays([180] * 10, jitter=0.0), until=180)
    assert len(fixed) == 36 and len(learned) < len(fixed) / 2


def test_first_poll_is_early_even_with_history() -> None:
    assert next(poll_delays([300], jitter=0.0)) == 2.0


def test_resuming_late_starts_from_the_elapsed_time() -> None:
    waits = list(islice(poll_delays([180], elapsed=400, jitter=0.0), 3))
    assert all(w > PollPlan().dense(180) for w in waits)


@settings(max_examples=200)
@given(history=st.lists(st.floats(1, 3600), max_size=30), elapsed=st.floats(0, 7200), r=st.floats(0, 0.999))
def test_waits_are_always_positive_and_bounded(history: list[float], elapsed: float, r: float) -> None:
    plan = PollPlan()
    for wait in islice(poll_delays(history, elapsed=elapsed, rng=lambda: r), 40):
        assert 0.5 <= wait <= max(plan.long_step, plan.cap) * 1.1


def test_expected_duration_ignores_junk() -> None:
    assert expected_duration([0, -3, 10, 20, 30]) == 20.0 and expected_duration([0]) is None
