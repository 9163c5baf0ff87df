"""The demo's deploy script, run by the shell backend: pretends to roll a version out in a few
seconds, printing progress, and records what runs where in a folder, with the error ratio the
demo's metrics then report (`adapters.metrics.demo`). A version containing ``broken`` fails half
way; one containing ``bad`` rolls out fine but makes 30 % of requests fail, so the health gate
catches it and Tocsin rolls it back. A canary (``TOCSIN_STAGE=canary``) takes
``TOCSIN_CANARY_WEIGHT`` percent of the requests next to the stable version, so a bad one fails
that share of them; a canary rollback takes it away.

    python -m bot.demo_deploy --state-dir DIR --action deploy --service orders \
        --environment prod --version v1.4.2 --previous v1.4.1 --run-id run-7 [--dry-run]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

STEPS = 3
PAUSE = 1.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Tocsin demo deploy")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--action", choices=("deploy", "rollback"), required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--environment", required=True)
    parser.add_argument("--version", required=True)
    parser.add_argument("--previous", default="")
    parser.add_argument("--run-id", default="")
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--param", action="append", default=[])
    args = parser.parse_args(argv)
    verb = "Rolling back" if args.action == "rollback" else "Deploying"
    print(f"{verb} {args.service} {args.previous or '?'} → {args.version} in {args.environment}")
    if args.dry_run:
        print("dry run: nothing changed")
        print("RESULT status=succeeded message=dry run: would roll out 3 replicas")
        return 0
    for line in progress(args.action, args.version, _stage(), _weight()):
        time.sleep(PAUSE)
        print(line, flush=True)
        if "broken" in args.version and line.startswith("replica 2/"):
            print("replica 3 crashed on start: CrashLoopBackOff", flush=True)
            print("RESULT status=failed message=replica 3 of 3 failed to start")
            return 1
    state = Path(args.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    live = record(state / f"{args.service}-{args.environment}", args)
    print(f"RESULT status=succeeded message={args.service} {live}")
    return 0


def progress(action: str, version: str, stage: str, weight: int) -> list[str]:
    """The lines a rollout prints, one per replica it changes: all of them, or for a canary
    only its share (20 % of 5 replicas: "replica 1/5 updated to v2 (canary 20 %)")."""
    if stage != "canary":
        return [f"replica {step}/{STEPS} updated to {version}" for step in range(1, STEPS + 1)]
    total, share = canary_replicas(weight)
    if action == "rollback":
        return [f"canary replica {step}/{share} removed" for step in range(1, share + 1)]
    return [
        f"replica {step}/{total} updated to {version} (canary {weight} %)"
        for step in range(1, share + 1)
    ]


def canary_replicas(weight: int) -> tuple[int, int]:
    """(replicas, of which on the canary) so that the canary's share is `weight` percent, or as
    near as twenty replicas allow."""
    total = 100 // math.gcd(weight, 100) if weight else 1
    total = min(total, 20)
    return total, max(1, round(weight * total / 100))


def _stage() -> str:
    return os.environ.get("TOCSIN_STAGE", "")


def _weight() -> int:
    return int(os.environ.get("TOCSIN_CANARY_WEIGHT", "0") or 0)


def record(base: Path, args: argparse.Namespace) -> str:
    """Write what now runs (the stable version, and a canary with its weight) and the error
    ratio it gives; returns what is live, in words."""
    stage, weight = _stage(), _weight()
    stable_file, canary_file = _file(base, "version"), _file(base, "canary")
    if stage == "canary" and args.action == "deploy":
        canary_file.write_text(f"{args.version} {weight}\n")
        said = f"{args.version} is live on the canary ({weight}% of requests)"
    elif stage == "canary":
        canary_file.unlink(missing_ok=True)
        said = "canary taken away"
    else:
        stable_file.write_text(args.version + "\n")
        canary_file.unlink(missing_ok=True)
        said = f"{args.version} is live"
    if not stable_file.exists():  # first seen: a canary runs beside, or is taken back to, it
        stable_file.write_text(
            (args.version if args.action == "rollback" else args.previous) + "\n"
        )
    stable = stable_file.read_text().strip()
    errors = _ratio(stable)
    if canary_file.exists():
        version, share = canary_file.read_text().split()
        errors += (_ratio(version) - errors) * int(share) / 100
    _file(base, "errors").write_text(f"{round(errors, 4)}\n")
    return said


def _file(base: Path, kind: str) -> Path:
    return base.parent / f"{base.name}.{kind}"


def _ratio(version: str) -> float:
    return 0.3 if "bad" in version else 0.0


if __name__ == "__main__":
    sys.exit(main())
