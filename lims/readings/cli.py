"""``lims agent register|list|revoke``: bench capture agents and their tokens (issue 12 §2).

The commands act as ``LIMS_CLI_USER`` (default ``admin``), who must hold the ``admin`` role;
each change is audited with that user as actor. The agent process itself (``lims agent
--config FILE``) is a separate, import-light program; it only needs the token printed here.
"""

from __future__ import annotations

from typing import Any

import click

from lims.catalogs import tr
from lims.clitools import echo_json


@click.group(invoke_without_command=True, help=tr(
    "Bench capture agents. With --config FILE: run the agent on this bench PC (foreground; "
    "SIGTERM or Ctrl-C stops it cleanly). On the server: register (prints the token once), "
    "list, revoke."))
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help=tr("The agent's TOML configuration (server, token, spool, instruments)."))
@click.pass_context
def agent(ctx: click.Context, config_path: str | None) -> None:
    """Bench capture agents: run one (--config), register, list, revoke."""
    ctx.obj = {"config": config_path}
    if ctx.invoked_subcommand is not None:
        return
    if config_path is None:
        click.echo(ctx.get_help())
        return
    from lims.agent.main import run_agent  # import-light: drivers, stdlib, catalogs

    ctx.exit(run_agent(config_path))


@agent.command("status", help=tr(
    "Per instrument of the agent configured in --config: connected, last reading, spooled "
    "readings, last acknowledged sequence number (read from its spool; the agent may run)."))
@click.option("--config", "config_path", type=click.Path(dir_okay=False),
              help=tr("The agent's TOML configuration (server, token, spool, instruments)."))
@click.option("--json", "as_json", is_flag=True, help=tr("As JSON."))
@click.pass_context
def agent_status(ctx: click.Context, config_path: str | None, as_json: bool) -> None:
    """Show what the agent configured in --config is doing, from its spool."""
    from lims.agent.main import print_status

    path = config_path or (ctx.obj or {}).get("config")
    if path is None:
        raise click.UsageError(tr("give --config FILE"))
    ctx.exit(print_status(path, as_json=as_json))


@agent.command("register", help=tr(
    "Register agent NAME for its instruments and print its token once (last line)."))
@click.argument("name")
@click.option("--instrument", "instruments", multiple=True, required=True,
              help=tr("Asset number of an instrument the agent reads (repeat for several)."))
def agent_register(name: str, instruments: tuple[str, ...]) -> None:
    """Register agent NAME for its instruments and print its token once (last line)."""
    from lims.auth.cli import _as_admin
    from lims.readings.services import register_agent

    with _as_admin() as (session, actor):
        registered, token = register_agent(session, actor=actor, name=name,
                                           assets=list(instruments))
        assets = ", ".join(i.asset_number for i in registered.instruments)
    click.echo(tr("registered agent %(name)s for %(assets)s; its token (shown once):",
                  name=name, assets=assets))
    click.echo(token)


def _describe(session: Any, a: Any) -> dict[str, Any]:
    from lims.readings.services import last_reading

    last = last_reading(session, a)
    return {"name": a.name, "instruments": [i.asset_number for i in a.instruments],
            "created_at": a.created_at.isoformat(),
            "revoked_at": a.revoked_at.isoformat() if a.revoked_at else None,
            "last_seq": last.seq if last else None,
            "last_received_at": last.received_at.isoformat() if last else None}


@agent.command("list", help=tr(
    "List agents: instruments, revoked, last sequence number received."))
@click.option("--json", "as_json", is_flag=True, help=tr("As JSON."))
def agent_list(as_json: bool) -> None:
    """List agents: instruments, revoked, last sequence number received."""
    from lims.auth.cli import _as_admin
    from lims.readings.services import list_agents

    with _as_admin() as (session, actor):
        rows = [_describe(session, a) for a in list_agents(session, actor=actor)]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        state = tr("revoked") if r["revoked_at"] else ""
        last = f"#{r['last_seq']} {r['last_received_at'][:19]}" if r["last_seq"] else "-"
        click.echo(f"{r['name']:<24} {','.join(r['instruments']):<30} {last:<30} {state}")


@agent.command("revoke", help=tr(
    "Revoke agent NAME's token at once (its stored readings stay)."))
@click.argument("name")
def agent_revoke(name: str) -> None:
    """Revoke agent NAME's token at once (its stored readings stay)."""
    from lims.auth.cli import _as_admin
    from lims.readings.services import revoke_agent

    with _as_admin() as (session, actor):
        revoke_agent(session, actor=actor, name=name)
    click.echo(tr("revoked agent %(name)s", name=name))


def commands() -> list[click.Command]:
    return [agent]
