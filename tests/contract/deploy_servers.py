"""The deploy backends that talk to a server, each against its fake on 127.0.0.1, built the way
their own tests build them (see `deploy_subjects` for what a subject gives the contract)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fake_argocd import ARGO_TOKEN, FakeArgoCd
from fake_github import GITHUB_TOKEN, REPO, FakeGitHub
from fake_gitlab import GITLAB_TOKEN, PROJECT_PATH, FakeGitLab
from fake_jenkins import TOKEN as JENKINS_TOKEN
from fake_jenkins import USER as JENKINS_USER
from fake_jenkins import FakeJenkins
from fake_kubernetes import TOKEN as KUBERNETES_TOKEN
from fake_kubernetes import FakeKubernetes
from fake_kubernetes_objects import deployment
from fake_webhook import SECRET as WEBHOOK_SECRET
from fake_webhook import FakeWebhook

from adapters.deploy import argocd, github, gitlab, jenkins, kubernetes, webhook
from adapters.deploy.github_settings import RESERVED
from bot.clock import FakeClock
from bot.ports import DeployBackend, DeployRequest, RunRef
from tests.contract.deploy_subjects import JOB, DeploySubject, closing, nowhere


@asynccontextmanager
async def argocd_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    api, made = FakeArgoCd(), []
    app = "orders-prod"

    def build(**overrides: Any) -> DeployBackend:
        raw = {"url": api.base_url + "/", "token": ARGO_TOKEN, **overrides}
        made.append(argocd.create("argocd-prod", raw, clock=FakeClock()))
        return made[-1]

    def finish(ref: RunRef, request: DeployRequest, phase: str = "Succeeded") -> None:
        api.begin(app)
        api.finish(app, phase)

    async with closing(made, api):
        helm_values = {"parameters": [{"name": "image.tag", "value": "1.4.1"}]}
        repo = {
            "repoURL": "https://git.test/deploy.git",
            "path": "orders",
            "targetRevision": "main",
        }
        api.add_app(app, source={**repo, "helm": helm_values})
        yield DeploySubject(
            build(),
            {"app": app, "parameter": "helm:image.tag"},
            {"app": "nope", "parameter": "helm:image.tag"},
            finish,
            lambda ref, request: finish(ref, request, "Failed"),
            lambda: len(api.calls_to("sync")) + len(api.calls_to("rollback")),
            lambda: build(url=nowhere() + "/"),
            cancelled=lambda: api.finish(
                app, "Failed", message="Operation terminated", health=None
            ),
        )


@asynccontextmanager
async def github_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    api, made = FakeGitHub(), []

    def build(**overrides: Any) -> DeployBackend:
        raw = {"url": api.base_url, "token": GITHUB_TOKEN, "lookup_interval": 0, **overrides}
        made.append(github.create("github", raw, clock=FakeClock()))
        return made[-1]

    async with closing(made, api):
        api.add_workflow(inputs=dict.fromkeys(RESERVED, False))
        yield DeploySubject(
            build(),
            {"repo": REPO, "workflow": "deploy.yml"},
            {"repo": REPO, "workflow": "nope.yml"},
            lambda ref, request: api.complete(int(ref.id), "success"),
            lambda ref, request: api.complete(int(ref.id), "failure"),
            lambda: len(api.dispatches),
            lambda: build(url=nowhere()),
        )


@asynccontextmanager
async def gitlab_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    api, made = FakeGitLab(), []

    def build(**overrides: Any) -> DeployBackend:
        raw = {"url": api.base_url, "token": GITLAB_TOKEN, **overrides}
        made.append(gitlab.create("gitlab", raw, clock=FakeClock()))
        return made[-1]

    async with closing(made, api):
        yield DeploySubject(
            build(),
            {"project": PROJECT_PATH},
            {"project": "shop/nope"},
            lambda ref, request: api.set_status(int(ref.id), "success"),
            lambda ref, request: api.set_status(int(ref.id), "failed"),
            lambda: len(api.pipelines),
            lambda: build(url=nowhere()),
        )


@asynccontextmanager
async def jenkins_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    api, made = FakeJenkins(), []

    def build(**overrides: Any) -> DeployBackend:
        raw = {"url": api.base_url, "user": JENKINS_USER, "api_token": JENKINS_TOKEN, **overrides}
        made.append(jenkins.create("jenkins-ci", raw, clock=FakeClock()))
        return made[-1]

    def finish(ref: RunRef, request: DeployRequest, result: str = "SUCCESS") -> None:
        queue_id = int(ref.data.get("queue_id") or ref.id.removeprefix("queue:"))
        number = api.run_queue_item(queue_id).number
        api.finish(JOB, number, result)

    async with closing(made, api):
        yield DeploySubject(
            build(),
            {"job": JOB},
            {"job": "team/nope"},
            finish,
            lambda ref, request: finish(ref, request, "FAILURE"),
            lambda: len(api.queue),
            lambda: build(url=nowhere()),
        )


@asynccontextmanager
async def kubernetes_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    api, made = FakeKubernetes(), []
    target = {"namespace": "shop", "deployment": "orders", "container": "app"}

    def build(**overrides: Any) -> DeployBackend:
        raw = {"api_url": api.url, "token": KUBERNETES_TOKEN, **overrides}
        made.append(kubernetes.create("k8s-prod", raw, clock=FakeClock()))
        return made[-1]

    async with closing(made, api):
        api.add(deployment())
        yield DeploySubject(
            build(),
            {**target, "image": "registry.example.com/shop/orders"},
            {**target, "deployment": "billing"},
            lambda ref, request: api.complete("shop", "orders"),
            lambda ref, request: api.exceed_deadline("shop", "orders"),
            lambda: len(api.patches),
            lambda: build(api_url=nowhere()),
        )


@asynccontextmanager
async def webhook_subject(tmp: Path) -> AsyncIterator[DeploySubject]:
    hook, made = FakeWebhook(), []

    def build(**overrides: Any) -> DeployBackend:
        raw = {"url": hook.hook_url, "secret": WEBHOOK_SECRET, **overrides}
        made.append(webhook.create("deployer", raw, clock=FakeClock()))
        return made[-1]

    async with closing(made, hook):
        yield DeploySubject(
            build(),
            {"extra": {"cluster": "cn-east-1"}},
            {"extra": {"cluster": "nowhere"}},
            lambda ref, request: hook.advance(request.run_id, "succeeded", "done"),
            lambda ref, request: hook.advance(request.run_id, "failed", "pods crash"),
            lambda: len(hook.runs),
            lambda: build(url=nowhere() + "/hooks/deploy"),
            lambda: hook.fail_next(422, message="unknown cluster 'nowhere'"),
        )


SERVER_SUBJECTS: dict[str, Callable[[Path], Any]] = {
    "argocd": argocd_subject,
    "github": github_subject,
    "gitlab": gitlab_subject,
    "jenkins": jenkins_subject,
    "kubernetes": kubernetes_subject,
    "webhook": webhook_subject,
}
