"""Concepts declared once: every state and action has its label, every declared
staff action has a handler, a role table entry and its place in the API schema, and
a case page offers exactly the actions the declarations allow."""

from __future__ import annotations

from types import SimpleNamespace

from hub.lifecycle.actions import STAFF_ACTIONS, available, request_schema
from hub.lifecycle.states import ACTION_LABELS, STATE_LABELS, STATES, TRANSITIONS
from hub.web.access import ACTIONS
from hub.web.actions import HANDLERS


def test_every_state_and_action_has_a_label() -> None:
    assert set(STATE_LABELS) == set(STATES)
    for transition in TRANSITIONS.values():
        assert transition.action in ACTION_LABELS, transition.action
        assert set(transition.sources) <= set(STATES), transition
        assert transition.target is None or transition.target in STATES, transition
    for action in STAFF_ACTIONS.values():
        assert action.label and set(action.transitions) <= set(TRANSITIONS), action.name


def test_each_declared_action_has_a_handler_roles_and_a_schema() -> None:
    assert set(HANDLERS) == set(STAFF_ACTIONS) == set(ACTIONS)
    schema = request_schema()
    assert schema["properties"]["action"]["enum"] == list(STAFF_ACTIONS)
    for action in STAFF_ACTIONS.values():
        for field in action.fields:
            assert field.name in schema["properties"], (action.name, field.name)


def test_the_buttons_follow_the_state_machine() -> None:
    def case(state: str, requested: bool = False, pause: str = "") -> SimpleNamespace:
        return SimpleNamespace(state=state, extension_requested=requested,
                               pause_requested=pause == "requested",
                               paused_at="2026-12-01" if pause == "paused" else None)

    assert available("dispatcher", case("triage")) == ["assign", "merge", "correct"]
    assert available("unit", case("assigned")) == [
        "sign", "return", "request_extension", "request_pause"]
    assert available("unit", case("signed", requested=True)) == [
        "reply", "return", "request_pause"]
    assert available("supervisor", case("signed", requested=True)) == [
        "assign", "decide_extension", "cohandle", "urge"]
    assert available("supervisor", case("signed", pause="requested")) == [
        "assign", "decide_pause", "cohandle", "urge"]
    # paused: no extension, no second pause; the unit or a supervisor resumes
    assert available("unit", case("signed", pause="paused")) == ["reply", "return", "resume"]
    assert available("supervisor", case("signed", pause="paused")) == [
        "assign", "resume", "cohandle", "urge"]
    # 审核办结 only once a case has been redone twice and escalated (二次督办)
    redone = SimpleNamespace(state="reopened", escalated=True, reopen_count=2)
    assert "conclude" in available("supervisor", redone)
    assert "conclude" not in available("supervisor", SimpleNamespace(
        state="reopened", escalated=True, reopen_count=1))
    assert available("unit", case("closed")) == [] == available("operator", case("triage"))
    # a returned case is ruled on (退单仲裁), not simply assigned again
    assert available("dispatcher", case("returned")) == ["arbitrate", "merge", "correct"]
