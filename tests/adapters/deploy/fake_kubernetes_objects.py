"""The Kubernetes objects the fake API server (`fake_kubernetes`) starts from, as the API server
returns them: a Deployment, an Argo Rollouts Rollout and a Flagger Canary."""

from __future__ import annotations

import copy
import hashlib
import json
import uuid
from typing import Any

NOW = "2026-01-05T03:00:00Z"


def deployment(
    name: str = "orders",
    namespace: str = "shop",
    *,
    image: str = "registry.example.com/shop/orders:1.4.1",
    replicas: int = 3,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A Deployment as the API server returns it, fully rolled out at revision 1; its labels
    (and selector) are ``app: <name>`` unless given."""
    labels = labels or {"app": name}
    return {
        "kind": "Deployment",
        "apiVersion": "apps/v1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "resourceVersion": "1000",
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": labels,
            "annotations": {"deployment.kubernetes.io/revision": "1"},
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                            "resources": {},
                            "terminationMessagePath": "/dev/termination-log",
                            "terminationMessagePolicy": "File",
                            "imagePullPolicy": "IfNotPresent",
                        },
                        {"name": "envoy", "image": "envoyproxy/envoy:v1.31.0"},
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                },
            },
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"},
            },
            "revisionHistoryLimit": 10,
            "progressDeadlineSeconds": 600,
        },
        "status": {},
    }


STEPS = ({"setWeight": 20}, {"pause": {}}, {"setWeight": 50}, {"pause": {"duration": "10m"}})
"""A canary that waits at 20 % for a promotion, then at 50 % for ten minutes."""


def rollout(
    name: str = "orders",
    namespace: str = "shop",
    *,
    image: str = "registry.example.com/shop/orders:1.4.1",
    replicas: int = 4,
    steps: tuple[dict[str, Any], ...] = STEPS,
) -> dict[str, Any]:
    """An Argo Rollouts Rollout as the API server returns it, Healthy on `image` (the pod template
    of `deployment`, the canary strategy's `steps`)."""
    body = deployment(name, namespace, image=image, replicas=replicas)
    body.update(kind="Rollout", apiVersion="argoproj.io/v1alpha1")
    body["metadata"]["annotations"] = {"rollout.argoproj.io/revision": "1"}
    body["spec"]["strategy"] = {"canary": {"steps": copy.deepcopy(list(steps))}}
    stable = template_hash(body["spec"]["template"])
    body["status"] = {
        "phase": "Healthy",
        "observedGeneration": "1",
        "currentPodHash": stable,
        "stableRS": stable,
        "currentStepIndex": len(steps),
        "replicas": replicas,
        "updatedReplicas": replicas,
        "availableReplicas": replicas,
    }
    return body


def flagger_canary(
    name: str = "orders", namespace: str = "shop", *, target: str = "orders"
) -> dict[str, Any]:
    """A Flagger Canary as the API server returns it, its last release promoted."""
    return {
        "kind": "Canary",
        "apiVersion": "flagger.app/v1beta1",
        "metadata": {"name": name, "namespace": namespace, "generation": 1},
        "spec": {
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "analysis": {"interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10},
        },
        "status": {
            "phase": "Succeeded",
            "canaryWeight": 0,
            "failedChecks": 0,
            "iterations": 0,
            "lastAppliedSpec": "5f7b9c8d4",
            "lastPromotedSpec": "5f7b9c8d4",
            "lastTransitionTime": NOW,
            "conditions": [promoted("True", "Succeeded", "Canary analysis completed successfully")],
        },
    }


def template_hash(template: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10]


def promoted(status: str, reason: str, message: str) -> dict[str, str]:
    """A Canary's ``Promoted`` condition."""
    return {
        "type": "Promoted",
        "status": status,
        "lastUpdateTime": NOW,
        "lastTransitionTime": NOW,
        "reason": reason,
        "message": message,
    }
