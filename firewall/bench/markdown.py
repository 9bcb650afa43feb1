"""``benchmarks.md``: the tables, the ratios, the machine, and how to regenerate them."""

from __future__ import annotations

from firewall.bench.render import (
    HEADERS,
    LOAD_HEADERS,
    load_cells,
    markdown_table,
    phase_rows,
    ratio_lines,
    scenario_cells,
)
from firewall.bench.results import BenchReport

METHOD = """\
- **One process, one run.** Every scenario is set up first; then each round makes one
  call of every scenario, in a fresh (seeded) random order, so all of them share the
  same machine noise and none always runs right after the same other one (whose
  after-effects, such as the OPA process finishing a request, would land on it). Each
  scenario first makes {warmup} unmeasured calls, so the policy sees a long session
  (summarized, with its latest calls in full) and the figures are its steady state. The
  rounds stop early after {budget:.0f} s (a busy machine), so a
  default run stays under five minutes; the count measured is the one stated above.
  Only errors are logged while measuring (the gate logs nothing for an allowed call;
  set-up warnings such as the development key's would break up the output).
- **The call** is an allowed `crm_lookup` (an in-memory CRM read) through
  `Firewall.run`, built by `build_firewall` from a `FirewallConfig`: the shipped Rego
  policies, a trusted customer fact, two moving-window rate-limit rules (per agent and
  per tenant, 10000/second: they never refuse, and a window holds as few entries as a
  real limit's would), and the audit log signing every decision and outcome. A refused
  call stops the run.
- **Stores.** *Embedded defaults*: regopy, `memory://` limits, SQLite audit and approvals
  (and the freeze list) in a temporary directory, with a development audit key
  (`ensure_dev_key`); the same with `[audit] sqlite_synchronous = "normal"` shows what
  the fsync of each decision record costs (a record then survives a crash of the
  process, not a power cut). *PostgreSQL + Redis*: audit and approvals on a fresh schema
  of the local PostgreSQL; rate limits, the freeze list and session summaries on Redis
  under a fresh key prefix; both removed afterwards. *OPA*: the embedded stores, with the
  policy asked of the Data-API stand-in `firewall.testing.opa_server` over loopback HTTP,
  running in a child process as a real OPA would (policies uploaded by the engine at
  start).
- **Agent step.** `langchain.agents.create_agent` with a scripted fake chat model (no LLM):
  one invocation = one model turn asking for the lookup, the tool, one closing turn.
  LangChain's guards are `ToolCallLimitMiddleware(run_limit=10)` and
  `HumanInTheLoopMiddleware` configured for the lookup with a `when` predicate that lets
  it through; ours is `FirewallMiddleware` on embedded defaults.
- **Columns.** Median and p99 (nearest rank) per call; calls/s = calls / their summed
  time (one caller, back to back); *median ÷ floor* and *added µs* compare with the bare
  call, or for agent steps with the agent without middleware.
- **Heap** is measured with `tracemalloc` in a second pass, one scenario at a time:
  *setup* is the Python heap the scenario holds once built and called once; *peak/calls*
  is the highest extra heap during up to {memory_calls} further calls. tracemalloc
  attributes memory to each scenario even in one process, which `ru_maxrss` (a single
  high-water mark per process) cannot; it does not see C/C++ allocations (regopy's Rego VM, libpq),
  and it slows calls down, hence the separate pass.
- **Audit.** Appends: gate-like decision + outcome records, one durable `append` each;
  every writer first appends one warm-up call, then *N writer processes* start together
  on a barrier and write one chain; the window runs from the first writer's start to the
  last one's end (process start-up and shutdown excluded). Verify: `verify_store` over a
  log of gate-like records (built in batches) checks every hash, link, sequence number,
  the Merkle tree and every checkpoint signature. Every log written here is verified
  before its figure is reported.
- Scenarios that need PostgreSQL or Redis say `skipped: <reason>` when it is unreachable.
"""


def _breakdown_section(report: BenchReport) -> str:
    """``## Where the time goes`` set off by blank lines; empty if it was not measured."""
    if not report.breakdown:
        return ""
    return f"""
## Where the time goes (embedded guarded call)

One allowed call on embedded defaults, split into its phases in a separate pass of
{report.breakdown_calls} calls, timed by wrappers around the stages and the gate's steps
(which add a little time of their own): each phase's median per call and its share of
the median call. A phase excludes the other phases it calls; an *of which* row is part
of the row above it; *other* is the gate's own work between the phases.

This pass calls one firewall alone, back to back, so the CPU caches stay warm with its
code and data; its total is lower than the *Per call* median, where each call follows
the other scenarios' calls and finds them cold (as a call does in an agent that uses a
tool every few seconds). The shares, not the absolute numbers, carry over.

{markdown_table(phase_rows(report))}
"""


def markdown_report(report: BenchReport, image: str = "benchmarks.png") -> str:
    """The whole ``benchmarks.md``."""
    latency = [list(HEADERS)] + [scenario_cells(report, r) for r in report.scenarios]
    audit = [list(LOAD_HEADERS)] + [load_cells(r) for r in report.audit]
    machine = "\n".join(f"- **{name}**: {value}" for name, value in report.machine.items())
    ratios = "\n".join(f"- {line}" for line in ratio_lines(report))
    breakdown = _breakdown_section(report)
    method = METHOD.format(
        warmup=report.warmup, budget=report.latency_budget_s, memory_calls=report.memory_calls
    )
    return f"""# Benchmarks: the price of safety

What a guarded tool call costs next to the bare call, on each backend, and what
`FirewallMiddleware` adds to a LangChain agent's tool step next to LangChain's own
middleware.

Measured {report.started_at:%Y-%m-%d %H:%M} UTC in one run of {report.seconds:.0f} s:
{report.calls_text()} per scenario. Regenerate this file and the chart with:

```bash
{report.command}
```

(PostgreSQL from `--postgres` or `FIREWALL_TEST_POSTGRES_URL`, Redis from `--redis` or
`FIREWALL_TEST_REDIS_URL`, else the local defaults.)

![median and p99 per scenario]({image})

## Per call

{markdown_table(latency)}

## Ratios

{ratios}
{breakdown}
## Audit log

{markdown_table(audit)}

## Machine

{machine}

## How this is measured

{method}"""
