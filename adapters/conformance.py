"""Every concrete adapter, checked by mypy against the port it implements.

The ports are Protocols, so nothing declares "this class implements `ChatPlatform`": a method
renamed or a parameter changed on one side goes unnoticed until that adapter is configured in
production. Each function below returns a concrete adapter as its port, so any drift is a mypy
error here, whether or not the composition root happens to build that adapter. Nothing calls
these functions and nothing imports this module at run time; its imports are for the type
checker only, so loading it needs no SDK.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from adapters.chat.console.platform import ConsolePlatform
    from adapters.chat.dingtalk import DingTalkAdapter
    from adapters.chat.dingtalk.platform import DingTalkPlatform
    from adapters.chat.dingtalk.robot import RobotPlatform
    from adapters.chat.feishu import FeishuAdapter
    from adapters.chat.feishu.platform import FeishuPlatform
    from adapters.chat.slack import SlackAdapter
    from adapters.chat.slack.platform import SlackPlatform
    from adapters.chat.wecom import WeComAdapter
    from adapters.chat.wecom.platform import WeComAppPlatform, WeComRobotPlatform
    from adapters.deploy import Kind as DeployKind
    from adapters.deploy import (
        argocd,
        github,
        gitlab,
        helm,
        jenkins,
        kubernetes,
        memory,
        shell,
        webhook,
    )
    from adapters.deploy.argocd import ArgoCdBackend
    from adapters.deploy.fake import FakeRollbackHandoff
    from adapters.deploy.github import GitHubBackend
    from adapters.deploy.gitlab import GitLabBackend
    from adapters.deploy.helm import HelmBackend
    from adapters.deploy.jenkins import JenkinsBackend
    from adapters.deploy.kubernetes import KubernetesBackend
    from adapters.deploy.memory import MemoryBackend
    from adapters.deploy.shell import ShellBackend
    from adapters.deploy.webhook import WebhookBackend
    from adapters.metrics import Kind as MetricsKind
    from adapters.metrics import demo, prometheus
    from adapters.metrics import memory as memory_metrics
    from adapters.metrics.demo import DemoMetrics
    from adapters.metrics.memory import MemoryMetrics
    from adapters.metrics.prometheus import PrometheusSource
    from adapters.notify.aliyun import AliyunSms, AliyunVoice
    from adapters.notify.email import EmailNotifier
    from adapters.notify.memory import MemoryNotifier
    from adapters.notify.tencent import TencentSms, TencentVoice
    from adapters.notify.twilio import TwilioSms, TwilioVoice
    from bot.incidents.rollback import RollbackHandoff
    from bot.ports import (
        ChatAdapter,
        ChatPlatform,
        DeployBackend,
        GroupMembers,
        MetricsSource,
        Notifier,
    )


# -- chat: whole adapters, then each outbound surface ------------------------------------------


def _slack_adapter(a: SlackAdapter) -> ChatAdapter:
    return a


def _dingtalk_adapter(a: DingTalkAdapter) -> ChatAdapter:
    return a


def _wecom_adapter(a: WeComAdapter) -> ChatAdapter:
    return a


def _feishu_adapter(a: FeishuAdapter) -> ChatAdapter:
    return a


def _console(p: ConsolePlatform) -> ChatPlatform:
    return p


def _slack(p: SlackPlatform) -> ChatPlatform:
    return p


def _dingtalk(p: DingTalkPlatform) -> ChatPlatform:
    return p


def _dingtalk_robot(p: RobotPlatform) -> ChatPlatform:
    return p


def _wecom_app(p: WeComAppPlatform) -> ChatPlatform:
    return p


def _wecom_robot(p: WeComRobotPlatform) -> ChatPlatform:
    return p


def _feishu(p: FeishuPlatform) -> ChatPlatform:
    return p


def _slack_groups(p: SlackPlatform) -> GroupMembers:
    return p


def _feishu_groups(p: FeishuPlatform) -> GroupMembers:
    return p


# -- deploy ------------------------------------------------------------------------------------


def _kubernetes(b: KubernetesBackend) -> DeployBackend:
    return b


def _helm(b: HelmBackend) -> DeployBackend:
    return b


def _argocd(b: ArgoCdBackend) -> DeployBackend:
    return b


def _gitlab(b: GitLabBackend) -> DeployBackend:
    return b


def _jenkins(b: JenkinsBackend) -> DeployBackend:
    return b


def _github(b: GitHubBackend) -> DeployBackend:
    return b


def _shell(b: ShellBackend) -> DeployBackend:
    return b


def _webhook(b: WebhookBackend) -> DeployBackend:
    return b


def _memory_backend(b: MemoryBackend) -> DeployBackend:
    return b


def _deploy_kinds() -> tuple[DeployKind, ...]:
    """Each backend module's entry points, as `adapters.deploy` loads them by name."""
    return (
        DeployKind(kubernetes.validate, kubernetes.validate_target, kubernetes.create),
        DeployKind(helm.validate, helm.validate_target, helm.create),
        DeployKind(argocd.validate, argocd.validate_target, argocd.create),
        DeployKind(gitlab.validate, gitlab.validate_target, gitlab.create),
        DeployKind(jenkins.validate, jenkins.validate_target, jenkins.create),
        DeployKind(github.validate, github.validate_target, github.create),
        DeployKind(shell.validate, shell.validate_target, shell.create),
        DeployKind(webhook.validate, webhook.validate_target, webhook.create),
        DeployKind(memory.validate, memory.validate_target, memory.create),
    )


def _metrics_kinds() -> tuple[MetricsKind, ...]:
    """Each metrics module's entry points, as `adapters.metrics` loads them by name."""
    return (
        MetricsKind(prometheus.validate, prometheus.create),
        MetricsKind(memory_metrics.validate, memory_metrics.create),
        MetricsKind(demo.validate, demo.create),
    )


def _fake_deploys(s: FakeRollbackHandoff) -> RollbackHandoff:
    """Not a port (see `bot.incidents.rollback`), but the fake must still answer like the core."""
    return s


# -- paging ------------------------------------------------------------------------------------


def _email(n: EmailNotifier) -> Notifier:
    return n


def _aliyun_sms(n: AliyunSms) -> Notifier:
    return n


def _aliyun_voice(n: AliyunVoice) -> Notifier:
    return n


def _tencent_sms(n: TencentSms) -> Notifier:
    return n


def _tencent_voice(n: TencentVoice) -> Notifier:
    return n


def _twilio_sms(n: TwilioSms) -> Notifier:
    return n


def _twilio_voice(n: TwilioVoice) -> Notifier:
    return n


def _memory_notifier(n: MemoryNotifier) -> Notifier:
    return n


# -- metrics -----------------------------------------------------------------------------------


def _prometheus(s: PrometheusSource) -> MetricsSource:
    return s


def _memory_metrics(s: MemoryMetrics) -> MetricsSource:
    return s


def _demo_metrics(s: DemoMetrics) -> MetricsSource:
    return s
