"""Click-to-run latency: from the approving click to the held tool starting to run.

    python -m benchmarks.approval_latency [--rounds 20] [--via slack|rest] [--redis URL]

Run from the repository root. Three parties, as in production: the agent in its own OS
process (``firewall.run`` waiting on a held refund), ``firewall serve`` in another, and
the approver here, with Slack's Web API played by a local mock. Each round waits
``--think`` seconds after the card appears (so the agent's polling has backed off, as it
would while a human reads the card), then clicks Approve (a signed ``block_actions``
request) or calls the REST API, and measures until the agent's tool starts. Without
``--redis`` the agent learns of the decision by polling the store (backoff 10 ms → 250
ms); with it, Redis pub/sub wakes it at once.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from firewall.adapters.slack import APPROVE_ACTION
from firewall.examples.support_agent.backends import Backends

from firewall.approvals.notify import notifier_from_url
from firewall.audit.keyfiles import KEY_FILE_ENV, generate_key_pair
from firewall.factory import build_firewall
from firewall.gate import Executed
from firewall.service_config import load_service_config
from firewall.types import ToolCall
from tests.adapters.rig import AGENT, TOKENS, render_toml
from tests.adapters.service.processes import REPO, next_event, service_process
from tests.adapters.slack.mock_slack import BOT_TOKEN, MockSlack
from tests.adapters.slack.payloads import SIGNING_SECRET, block_action, form, signed


def say(event: str, **fields: object) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


def agent_main(config_path: str, rounds: int, redis_url: str | None) -> int:
    """The agent process: ``rounds`` held refunds, one after another."""
    firewall = build_firewall(
        load_service_config(config_path).firewall, facts=Backends.seeded().facts()
    )
    firewall.approvals.notifier = notifier_from_url(redis_url)
    for _ in range(rounds):
        args = {"order_id": "o-2", "amount": 450.0, "reason": "late delivery"}
        call = ToolCall(tool="issue_refund", args=args, principal=AGENT, session_id="bench")
        result = firewall.run(call, lambda: say("tool_ran", at=time.time()))
        say("result", kind="executed" if isinstance(result, Executed) else result.kind)
    firewall.close()
    return 0


def _new_hold(slack: MockSlack, url: str, via: str, seen: set[str]) -> str:
    for _ in range(6000):
        if via == "slack":
            posts = slack.calls_to("chat.postMessage")
            cards = [c.params["blocks"] for c in posts if "blocks" in c.params]
            ids = [b[-2]["elements"][0]["value"] for b in cards if b[-2]["type"] == "actions"]
        else:
            headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
            holds = httpx.get(f"{url}/api/holds", headers=headers).json()["holds"]
            ids = [hold["hold_id"] for hold in holds]
        fresh = [hold_id for hold_id in ids if hold_id not in seen]
        if fresh:
            seen.add(fresh[0])
            return fresh[0]
        time.sleep(0.01)
    raise RuntimeError("no new hold appeared")


def _approve(http: httpx.Client, via: str, hold_id: str) -> int:
    """Approve over ``http``: one keep-alive connection, as Slack's and a REST client's are."""
    if via == "slack":
        body = form(block_action("U0CAROL", APPROVE_ACTION, hold_id, "1700000000.000001"))
        return http.post("/slack/events", content=body, headers=signed(body)).status_code
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    return http.post(f"/api/holds/{hold_id}/approve", headers=headers).status_code


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]


def _read_round_trips(http: httpx.Client, hold_id: str, count: int = 200) -> list[float]:
    """REST round trips that write nothing (showing a hold): the HTTP path alone."""
    headers = {"Authorization": f"Bearer {TOKENS['alice']}"}
    times = []
    for _ in range(count):
        start = time.perf_counter()
        http.get(f"/api/holds/{hold_id}", headers=headers).raise_for_status()
        times.append(time.perf_counter() - start)
    return times


def _report(
    latencies: list[float], acks: list[float], reads: list[float], args: argparse.Namespace
) -> None:
    ordered = sorted(latencies)
    print(
        f"click-to-run via {args.via}, wake-up by {'redis' if args.redis else 'polling'},"
        f" {len(ordered)} rounds, think {args.think}s:\n"
        f"  median {statistics.median(ordered) * 1000:.1f} ms, mean"
        f" {statistics.fmean(ordered) * 1000:.1f} ms, p90 {_p90(ordered) * 1000:.1f} ms,"
        f" min {ordered[0] * 1000:.1f} ms, max {ordered[-1] * 1000:.1f} ms\n"
        f"  decision HTTP round trip (request in, decision durable, answer out):"
        f" median {statistics.median(acks) * 1000:.1f} ms, p90 {_p90(acks) * 1000:.1f} ms\n"
        f"  REST round trip writing nothing (GET a hold, keep-alive, {len(reads)} times):"
        f" median {statistics.median(reads) * 1000:.2f} ms, p90 {_p90(reads) * 1000:.2f} ms"
    )


def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp, MockSlack() as slack:
        key_file, _, _ = generate_key_pair(Path(tmp) / "keys", "bench")
        env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               KEY_FILE_ENV: str(key_file)}  # fmt: skip
        config = Path(tmp) / "firewall.toml"
        config.write_text(render_toml(f"sqlite:///{tmp}/bench.db", slack.url, 0.2), "utf-8")
        options = ("--redis", args.redis) if args.redis else ()
        with (
            service_process(config, env, *options) as url,
            httpx.Client(base_url=url, timeout=30) as http,
        ):
            command = [sys.executable, "-m", "benchmarks.approval_latency", "--agent",
                       str(config), str(args.rounds), args.redis or ""]  # fmt: skip
            agent = subprocess.Popen(  # noqa: S603
                command, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.PIPE, text=True
            )
            latencies, acks, seen = [], [], set[str]()
            for _ in range(args.rounds):
                hold_id = _new_hold(slack, url, args.via, seen)
                time.sleep(args.think)
                clicked = time.time()
                if (status := _approve(http, args.via, hold_id)) != 200:
                    raise RuntimeError(f"approving {hold_id} answered HTTP {status}")
                acks.append(time.time() - clicked)
                latencies.append(next_event(agent, "tool_ran")["at"] - clicked)
                if (kind := next_event(agent, "result")["kind"]) != "executed":
                    raise RuntimeError(f"the held call was not executed: {kind}")
            agent.wait(60)
            reads = _read_round_trips(http, hold_id)
    _report(latencies, acks, reads, args)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--agent":
        sys.exit(agent_main(sys.argv[2], int(sys.argv[3]), sys.argv[4] or None))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--via", choices=["slack", "rest"], default="slack")
    parser.add_argument("--redis", default=None, help="e.g. redis://127.0.0.1:6379/0")
    parser.add_argument("--think", type=float, default=2.0, help="seconds before each click")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
