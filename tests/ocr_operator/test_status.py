"""Pure status computation: Deployment observations → conditions, replicas, model, rollout line."""

from __future__ import annotations

from typing import Any

from ocr_operator.builders.meta import MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION
from ocr_operator.status import (
    Problem,
    carried_problem,
    compute_status,
    condition_events,
    lingering_pods,
    observe_rollout,
    rollout_line,
    status_changed,
)

T0, T1 = "2024-05-01T10:00:00Z", "2024-05-01T10:05:00Z"


def deployment(
    desired: int = 3,
    updated: int = 3,
    available: int = 3,
    total: int | None = None,
    generation: int = 2,
    observed: int = 2,
    model: str = "crnn-en-1.0.0",
    stuck: bool = False,
    progressing: str | None = None,
) -> dict[str, Any]:
    """A Deployment as observed; ``progressing`` is the reason of its Progressing=True condition."""
    conditions = []
    if progressing:
        conditions.append({"type": "Progressing", "status": "True", "reason": progressing})
    if stuck:
        conditions.append(
            {
                "type": "Progressing",
                "status": "False",
                "reason": "ProgressDeadlineExceeded",
                "message": 'ReplicaSet "invoices-abc" has timed out progressing.',
            }
        )
    return {
        "metadata": {"generation": generation},
        "spec": {
            "replicas": desired,
            "template": {
                "metadata": {
                    "annotations": {MODEL_ANNOTATION: model, MODEL_VERSION_ANNOTATION: model.rsplit("-", 1)[1]}
                }
            },
        },
        "status": {
            "observedGeneration": observed,
            "replicas": updated if total is None else total,
            "updatedReplicas": updated,
            "availableReplicas": available,
            "readyReplicas": available,
            "conditions": conditions,
        },
    }


def conds(status: Any) -> dict[str, tuple[str, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_rollout_line_has_the_documented_format() -> None:
    rollout = observe_rollout(deployment(desired=3, updated=2, available=1, total=4))
    assert rollout_line("default", "invoices", rollout) == (
        "default/invoices: rollout 2/3 updated, 1/3 available, model crnn-en-1.0.0"
    )
    done = observe_rollout(deployment())
    assert rollout_line("default", "invoices", done).endswith("3/3 available, model crnn-en-1.0.0 (complete)")


def test_complete_rollout_is_ready() -> None:
    status = compute_status(generation=4, deployment=deployment(), previous=None, url="http://x/", now=T0)
    assert conds(status) == {
        "Ready": ("True", "Available"),
        "Progressing": ("False", "RolloutComplete"),
        "Degraded": ("False", "AsExpected"),
    }
    patch = status.to_patch()
    assert patch["observedGeneration"] == 4
    assert (patch["replicas"], patch["readyReplicas"], patch["updatedReplicas"]) == (3, 3, 3)
    assert (patch["model"], patch["modelVersion"], patch["url"]) == ("crnn-en-1.0.0", "1.0.0", "http://x/")
    assert all(c["lastTransitionTime"] == T0 and c["observedGeneration"] == 4 for c in patch["conditions"])


def test_rolling_update_is_progressing_and_keeps_serving_model() -> None:
    previous = compute_status(generation=1, deployment=deployment(), previous=None, url=None, now=T0).to_patch()
    rolling = deployment(updated=1, available=3, total=4, generation=3, observed=3, model="crnn-en-1.1.0")
    status = compute_status(generation=2, deployment=rolling, previous=previous, url=None, now=T1)
    assert conds(status) == {
        "Ready": ("False", "RollingOut"),
        "Progressing": ("True", "RollingOut"),
        "Degraded": ("False", "AsExpected"),
    }
    # Old pods still serve 1.0.0 until the rollout completes.
    assert status.model == "crnn-en-1.0.0"
    times = {c.type: c.last_transition_time for c in status.conditions}
    assert times == {"Ready": T1, "Progressing": T1, "Degraded": T0}  # Degraded did not change


def _pod(name: str, model: str | None, phase: str = "Running") -> dict[str, Any]:
    annotations = {MODEL_ANNOTATION: model, MODEL_VERSION_ANNOTATION: model.rsplit("-", 1)[1]} if model else {}
    return {"metadata": {"name": name, "annotations": annotations}, "status": {"phase": phase}}


def test_lingering_pods_are_those_of_another_model_still_running_or_terminating() -> None:
    rollout = observe_rollout(deployment(model="crnn-en-1.1.0"))
    pods = [
        _pod("new", "crnn-en-1.1.0"),
        _pod("old-b", "crnn-en-1.0.0"),
        _pod("old-a", "crnn-en-1.0.0", phase="Pending"),
        _pod("gone", "crnn-en-1.0.0", phase="Failed"),
        _pod("unlabelled", None),
    ]
    assert lingering_pods(pods, rollout) == ("old-a", "old-b")
    assert lingering_pods([_pod("new", "crnn-en-1.1.0")], rollout) == ()


def test_complete_rollout_with_old_pods_left_keeps_the_old_model_and_is_progressing() -> None:
    previous = compute_status(generation=1, deployment=deployment(), previous=None, url=None, now=T0).to_patch()
    done = deployment(generation=3, observed=3, model="crnn-en-1.1.0")
    status = compute_status(
        generation=2, deployment=done, previous=previous, url=None, now=T1, lingering=("a", "b", "c", "d")
    )
    assert conds(status) == {
        "Ready": ("True", "Available"),
        "Progressing": ("True", "TerminatingOldPods"),
        "Degraded": ("False", "AsExpected"),
    }
    assert status.model == "crnn-en-1.0.0"
    message = next(c.message for c in status.conditions if c.type == "Progressing")
    assert message.endswith("waiting for 4 pod(s) of the previous model to terminate: a, b, c and 1 more")
    settled = compute_status(generation=2, deployment=done, previous=status.to_patch(), url=None, now=T1)
    assert settled.model == "crnn-en-1.1.0" and conds(settled)["Progressing"] == ("False", "RolloutComplete")


def test_deployment_not_yet_observed_is_not_ready() -> None:
    status = compute_status(
        generation=2, deployment=deployment(generation=3, observed=2), previous=None, url=None, now=T0
    )
    assert conds(status)["Ready"] == ("False", "RollingOut")
    assert conds(status)["Progressing"][0] == "True"
    lost_pod = compute_status(generation=2, deployment=deployment(available=2), previous=None, url=None, now=T0)
    assert conds(lost_pod)["Ready"] == ("False", "Unavailable")
    assert conds(lost_pod)["Progressing"] == ("False", "RolloutComplete")


def test_pods_still_starting_are_a_rollout_until_the_deployment_completes_it() -> None:
    """Every pod runs the new template (the first rollout) but none is available yet: still rolling
    out while the Deployment controller says so; a pod lost after it completed is no rollout."""
    for reason in ("NewReplicaSetCreated", "ReplicaSetUpdated", "FoundNewReplicaSet"):
        starting = deployment(updated=3, available=0, progressing=reason)
        status = compute_status(generation=2, deployment=starting, previous=None, url=None, now=T0)
        assert conds(status) == {
            "Ready": ("False", "RollingOut"),
            "Progressing": ("True", "RollingOut"),
            "Degraded": ("False", "AsExpected"),
        }, reason
    lost_pod = deployment(available=2, progressing="NewReplicaSetAvailable")
    status = compute_status(generation=2, deployment=lost_pod, previous=None, url=None, now=T0)
    assert conds(status)["Ready"] == ("False", "Unavailable")
    assert conds(status)["Progressing"] == ("False", "RolloutComplete")


def test_stuck_rollout_is_progressing_false_and_degraded() -> None:
    stuck = deployment(updated=1, available=3, total=4, stuck=True)
    status = compute_status(generation=2, deployment=stuck, previous=None, url=None, now=T0)
    assert conds(status) == {
        "Ready": ("False", "ProgressDeadlineExceeded"),
        "Progressing": ("False", "ProgressDeadlineExceeded"),
        "Degraded": ("True", "ProgressDeadlineExceeded"),
    }
    progressing = next(c for c in status.conditions if c.type == "Progressing")
    assert "timed out" in progressing.message


def test_invalid_spec_without_deployment() -> None:
    problem = Problem("InvalidSpec", "invalid spec: resources.requests.cpu (2) exceeds resources.limits.cpu (1)")
    status = compute_status(generation=1, deployment=None, previous=None, url=None, now=T0, problem=problem)
    assert conds(status) == {
        "Ready": ("False", "InvalidSpec"),
        "Progressing": ("False", "InvalidSpec"),
        "Degraded": ("True", "InvalidSpec"),
    }
    degraded = next(c for c in status.conditions if c.type == "Degraded")
    assert "exceeds resources.limits.cpu" in degraded.message


def test_a_problem_is_never_ready_even_with_the_old_pods_serving() -> None:
    """Ready means "what the spec asks for is up": not while a child is refused or the spec is invalid."""
    for reason in ("InvalidSpec", "ApplyFailed", "UnknownModel"):
        problem = Problem(reason, "Service invoices: 403 exceeded quota")  # type: ignore[arg-type]
        status = compute_status(generation=5, deployment=deployment(), previous=None, url=None, now=T0, problem=problem)
        assert conds(status)["Ready"] == ("False", reason)
        assert conds(status)["Degraded"] == ("True", reason)
        assert status.available_replicas == 3  # the old pods are still reported


def test_paused_complete_rollout() -> None:
    status = compute_status(generation=2, deployment=deployment(), previous=None, url=None, now=T0, paused=True)
    assert conds(status)["Progressing"] == ("False", "Paused")
    assert conds(status)["Ready"] == ("True", "Available")


def test_waiting_for_creation() -> None:
    status = compute_status(generation=1, deployment=None, previous=None, url="u", now=T0)
    assert conds(status)["Ready"] == ("False", "Creating")
    assert conds(status)["Progressing"] == ("True", "Creating")
    assert status.replicas is None


def test_status_changed_and_events() -> None:
    first = compute_status(generation=1, deployment=deployment(available=1), previous=None, url=None, now=T0)
    first_patch = first.to_patch()
    same = compute_status(generation=1, deployment=deployment(available=1), previous=first_patch, url=None, now=T1)
    assert not status_changed(first_patch, same)
    ready = compute_status(generation=1, deployment=deployment(), previous=first_patch, url=None, now=T1)
    assert status_changed(first_patch, ready)
    assert [(e.type, e.reason) for e in condition_events(first_patch, ready)] == [("Normal", "Ready")]
    stuck = compute_status(
        generation=1, deployment=deployment(stuck=True, updated=1), previous=ready.to_patch(), url=None, now=T1
    )
    assert ("Warning", "ProgressDeadlineExceeded") in [
        (e.type, e.reason) for e in condition_events(ready.to_patch(), stuck)
    ]
    recovered = compute_status(generation=1, deployment=deployment(), previous=stuck.to_patch(), url=None, now=T1)
    reasons = [e.reason for e in condition_events(stuck.to_patch(), recovered)]
    assert "Recovered" in reasons and "Ready" in reasons


def test_carried_problem_only_for_the_same_generation() -> None:
    failed = compute_status(
        generation=3,
        deployment=deployment(),
        previous=None,
        url=None,
        now=T0,
        problem=Problem("ApplyFailed", "422 Deployment is invalid"),
    ).to_patch()
    assert carried_problem(failed, 3) == Problem("ApplyFailed", "422 Deployment is invalid")
    assert carried_problem(failed, 4) is None
    assert carried_problem(None, 1) is None
