"""Fault specs and scripts, without a server."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seedance_nb.simulator import parse_faults
from seedance_nb.simulator.faults import CODE_KINDS, ENDPOINTS, KINDS, FaultPlan


def test_parse_keeps_order_and_tolerates_spaces() -> None:
    spec = parse_faults(" createtask:429=0.2 , createtask:drop=0.1,*:500=0.05 ,, taskinfo:SLOW=1e-1")
    assert spec.rules["createtask"] == (("429", 0.2), ("drop", 0.1))
    assert spec.rules["*"] == (("500", 0.05),)
    assert spec.rules["taskinfo"] == (("slow", 0.1),)
    assert spec.rates_for("createtask") == (("429", 0.2), ("drop", 0.1), ("500", 0.05))
    assert parse_faults(spec.text) == spec


@pytest.mark.parametrize("spec", [None, "", "   ", ","])
def test_empty_spec_means_no_faults(spec: str | None) -> None:
    assert parse_faults(spec).rules == {}


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("createtask", "ENDPOINT:KIND=RATE"),
        ("createtask:429", "ENDPOINT:KIND=RATE"),
        ("nowhere:429=0.1", "Unknown fault endpoint"),
        ("createtask:418=0.1", "Unknown fault kind"),
        ("createtask:429=often", "not a number"),
        ("createtask:429=1.5", "outside [0, 1]"),
        ("createtask:429=-0.1", "outside [0, 1]"),
        ("taskinfo:lost=0.1", "createtask only"),
        ("*:lost=0.1", "createtask only"),
        ("createtask:429=0.6,*:500=0.5", "more than 1"),
    ],
)
def test_bad_specs_raise_clear_value_errors(spec: str, words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("[", r"\[").replace("]", r"\]")):
        parse_faults(spec)


def test_script_runs_in_order_before_random_rates() -> None:
    plan = FaultPlan("createtask:500=1", seed=0)
    plan.script("createtask", ["lost", None, 429])
    assert [plan.choose("createtask") for _ in range(4)] == ["lost", None, "429", "500"]


def test_endpoint_script_wins_over_star_script() -> None:
    plan = FaultPlan(None, seed=0)
    plan.script("*", ["500", "455"])
    plan.script("balance", ["drop"])
    assert plan.choose("balance") == "drop"
    assert plan.choose("taskinfo") == "500"
    assert plan.choose("balance") == "455"
    assert plan.choose("balance") is None


def test_new_script_replaces_the_rest_of_the_old_one() -> None:
    plan = FaultPlan(None)
    plan.script("taskinfo", ["500", "500"])
    plan.choose("taskinfo")
    plan.script("taskinfo", ["slow"])
    assert plan.pending_script("taskinfo") == ["slow"]


@pytest.mark.parametrize(("endpoint", "kinds"), [("createtask", ["teapot"]), ("nowhere", [None]),
                                                 ("media", ["lost"])])
def test_bad_scripts_raise(endpoint: str, kinds: list[str | None]) -> None:
    with pytest.raises(ValueError):
        FaultPlan(None).script(endpoint, kinds)


def test_rates_are_seeded_and_roughly_honoured() -> None:
    plan_a = FaultPlan("taskinfo:429=0.3,taskinfo:drop=0.2", seed=42)
    plan_b = FaultPlan("taskinfo:429=0.3,taskinfo:drop=0.2", seed=42)
    seq_a = [plan_a.choose("taskinfo") for _ in range(4000)]
    seq_b = [plan_b.choose("taskinfo") for _ in range(4000)]
    assert seq_a == seq_b
    assert 0.26 < seq_a.count("429") / 4000 < 0.34
    assert 0.17 < seq_a.count("drop") / 4000 < 0.23
    assert 0.46 < seq_a.count(None) / 4000 < 0.54
    assert all(plan_a.choose("balance") is None for _ in range(100))


def test_rate_one_always_and_zero_never() -> None:
    plan = FaultPlan("balance:455=1,taskinfo:500=0", seed=None)
    assert all(plan.choose("balance") == "455" for _ in range(200))
    assert all(plan.choose("taskinfo") is None for _ in range(200))


def test_set_spec_keeps_scripts() -> None:
    plan = FaultPlan(None)
    plan.script("balance", ["drop"])
    plan.set_spec("balance:500=1")
    assert plan.choose("balance") == "drop"
    assert plan.choose("balance") == "500"
    with pytest.raises(ValueError):
        plan.set_spec("balance:500=2")
    assert plan.spec.text == "balance:500=1"


_items = st.tuples(
    st.sampled_from([*ENDPOINTS, "*"]),
    st.sampled_from([k for k in KINDS if k != "lost"]),
    st.floats(min_value=0, max_value=0.1, allow_nan=False),
)


@given(st.lists(_items, max_size=6))
def test_any_well_formed_spec_round_trips(items: list[tuple[str, str, float]]) -> None:
    text = ",".join(f"{ep}:{kind}={rate!r}" for ep, kind, rate in items)
    spec = parse_faults(text)
    assert parse_faults(spec.text).rules.keys() == spec.rules.keys()
    plan = FaultPlan(spec, seed=1)
    for endpoint in ENDPOINTS:
        assert plan.choose(endpoint) in (None, *CODE_KINDS, "drop", "slow")
