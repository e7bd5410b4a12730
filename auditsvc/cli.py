"""The `auditsvc` command: thin wrappers that parse flags, call the library and render.

Exit codes follow conftest: 0 pass, 1 failures (with --fail-on-warn: 1
warnings, 2 failures). 3 is a usage, configuration or runtime error, so an
error never looks like a pass or like a policy verdict.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import click

from auditsvc import __version__
from auditsvc.config import Settings, load_settings
from auditsvc.errors import AuditsvcError, ConfigError

EXIT_ERROR = 3
OUTPUT_FORMATS = ("text", "json", "junit", "sarif", "github")


def config_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_path",
        type=click.Path(dir_okay=False),
        help="auditsvc.yaml to read (default: $AUDITSVC_CONFIG, else built-in defaults).",
    )(command)


def settings_from(config_path: str | None, **flags: Any) -> Settings:
    return load_settings(config_path, overrides=flags)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="auditsvc")
def cli() -> None:
    """Policy gate and audit trail for GitOps repositories."""


@cli.command()
@click.argument("paths", nargs=-1)
@click.option("--base", help="Git range mode: check manifests changed since this revision.")
@click.option("--head", help="Git range mode: the revision to check (default HEAD).")
@click.option("--repo", default=".", show_default=True, help="Repository for --base/--head.")
@click.option("-p", "--policy", "policies", multiple=True, help="Policy directory (repeatable); replaces the default set. @bundled names the bundled library.")
@click.option("--namespace", "namespaces", multiple=True, help="Rego package to evaluate (repeatable, default main).")
@click.option("--all-namespaces", is_flag=True, default=None, help="Evaluate every package with deny/warn/violation rules.")
@click.option("--data", multiple=True, help="JSON/YAML file exposed to policies under data (repeatable).")
@click.option("--combine", is_flag=True, help="Give the policies one array of all documents ({path, contents}).")
@click.option("--fail-on-warn", is_flag=True, default=None, help="Exit 1 on warnings, 2 on failures.")
@click.option("--schemas", multiple=True, help="Directory of extra JSON Schemas or CRDs (repeatable).")
@click.option("--kubernetes-version", help="Kubernetes schema version X.Y (default: newest bundled).")
@click.option("--reject-missing-schemas", is_flag=True, default=None, help="A resource with no schema fails instead of warning.")
@click.option("--waivers", help="Waivers file (YAML).")
@click.option("--exclude", multiple=True, help="Glob of paths to skip (repeatable).")
@click.option("-o", "--output", type=click.Choice(OUTPUT_FORMATS), default="text", show_default=True)
@click.option("--workers", type=int, help="Worker processes (default: one per core).")
@config_option
def check(
    paths: tuple[str, ...],
    base: str | None,
    head: str | None,
    repo: str,
    combine: bool,
    output: str,
    config_path: str | None,
    **flags: Any,
) -> None:
    """Validate manifests against JSON Schemas and Rego policies.

    PATHS are files or directories (walked for *.yaml, *.yml, *.json); - reads
    standard input. With --base, checks the manifests the commit range adds or
    changes, as they are at --head.
    """
    from auditsvc.changes import changed_manifests, crd_sources
    from auditsvc.check import Checker, find_crds, run_check
    from auditsvc.manifests import collect
    from auditsvc.report.findings import RENDERERS

    settings = settings_from(config_path, **flags)
    if base is None and head is not None:
        raise click.UsageError("--head needs --base: the range is BASE..HEAD")
    if base is not None:
        if paths:
            raise click.UsageError("give either PATHS or --base/--head, not both")
        head = head or "HEAD"
        sources = changed_manifests(repo, base, head, settings.exclude)
        crds = find_crds(crd_sources(repo, head), settings.limits)
    else:
        if not paths:
            raise click.UsageError("nothing to check: give PATHS (files, directories or -) or --base REV")
        try:
            sources = collect(paths, settings.exclude)
        except FileNotFoundError as err:
            raise ConfigError(f"{err.args[0]}: no such file or directory") from None
        crds = find_crds(sources, settings.limits)
    checker = Checker.from_settings(settings, crds=crds, combine=combine)
    result = run_check(checker, sources, settings.workers)
    click.echo(RENDERERS[output](result), nl=False)
    sys.exit(result.exit_code(settings.fail_on_warn))


@cli.group()
def policy() -> None:
    """Work with Rego policies."""


@policy.command("test")
@click.argument("dirs", nargs=-1)
@click.option("--data", multiple=True, help="JSON/YAML file exposed under data (repeatable).")
@click.option("-q", "--quiet", is_flag=True, help="Show only failing tests.")
@config_option
def policy_test(dirs: tuple[str, ...], data: tuple[str, ...], quiet: bool, config_path: str | None) -> None:
    """Run test_* rules in *_test.rego files under DIRS (default: the configured policies)."""
    from auditsvc.policy.testing import render_results, run_tests

    settings = settings_from(config_path, data=data)
    policy_dirs = dirs or settings.policy_dirs
    results = run_tests(policy_dirs, settings.data)
    click.echo(render_results(results, verbose=not quiet), nl=False)
    sys.exit(0 if results and all(r.outcome == "PASS" for r in results) else 1)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="auditsvc", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.Abort:
        click.echo("auditsvc: aborted", err=True)
        sys.exit(EXIT_ERROR)
    except click.ClickException as err:
        click.echo(f"auditsvc: {err.format_message()}", err=True)
        sys.exit(EXIT_ERROR)
    except AuditsvcError as err:
        click.echo(f"auditsvc: error: {err}", err=True)
        sys.exit(EXIT_ERROR)
