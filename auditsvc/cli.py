"""The `auditsvc` command: thin wrappers that parse flags, call the library and render.

Exit codes follow conftest: 0 pass, 1 failures (with --fail-on-warn: 1
warnings, 2 failures). 3 is a usage, configuration or runtime error, so an
error never looks like a pass or like a policy verdict.
"""

from __future__ import annotations

import dataclasses
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
    if base is not None:
        from auditsvc.gate import range_change_findings

        found = range_change_findings(checker, repo, base, head or "HEAD", settings)
        result = dataclasses.replace(result, findings=result.findings + tuple(found))
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


@cli.group()
def hook() -> None:
    """The Git server hook: install it, and the commands the installed shims run."""


@hook.command("install")
@click.argument("git_dir", type=click.Path(file_okay=False))
@click.option("--layout", type=click.Choice(("auto", "plain", "gitea", "gitlab")), default="auto", show_default=True)
@click.option("--socket", "socket_path", help="Hand each push to `auditsvc hook daemon` listening on this socket.")
@config_option
def hook_install(git_dir: str, layout: str, socket_path: str | None, config_path: str | None) -> None:
    """Install the pre-receive and post-receive shims into the bare repository GIT_DIR."""
    from auditsvc.install import install

    for hook_name, path in install(git_dir, config_path, layout, socket_path).items():
        click.echo(f"installed {hook_name}: {path}")


@hook.command("uninstall")
@click.argument("git_dir", type=click.Path(file_okay=False))
def hook_uninstall(git_dir: str) -> None:
    """Remove the auditsvc shims from GIT_DIR (other hooks stay)."""
    from auditsvc.install import uninstall

    removed = uninstall(git_dir)
    click.echo("\n".join(f"removed {p}" for p in removed) or "no auditsvc hook was installed")


@hook.command("pre-receive")
@config_option
def hook_pre_receive(config_path: str | None) -> None:
    """Run by the installed shim: read ref updates on stdin, check, record, accept or refuse."""
    import os

    from auditsvc.hook import pre_receive

    sys.exit(pre_receive(settings_from(config_path), os.environ, sys.stdin, sys.stderr))


@hook.command("daemon")
@click.option("--socket", "socket_path", required=True, help="Unix socket to listen on (created mode 0600).")
def hook_daemon(socket_path: str) -> None:
    """Keep the hooks' imports warm: shims installed with --socket hand each push to this process.

    Runs in the foreground until stopped; run it as the Git server's user (a systemd service, say).
    Without it the shims run the hook themselves, only slower.
    """
    from auditsvc.hookd import serve

    serve(socket_path)


@hook.command("record")
@click.argument("git_dir", required=False, type=click.Path(file_okay=False))
@config_option
def hook_record(git_dir: str | None, config_path: str | None) -> None:
    """Record what post-receive spooled in GIT_DIR (default $GIT_DIR, else .); started by post-receive.

    Exit 1 if an entry could not be recorded (it stays spooled; the reason is in
    GIT_DIR/auditsvc-spool/recorder.log).
    """
    import os

    from auditsvc.hook import record

    sys.exit(record(settings_from(config_path), git_dir or os.environ.get("GIT_DIR", "."), sys.stderr))


@hook.command("post-receive")
@config_option
def hook_post_receive(config_path: str | None) -> None:
    """Run by the installed shim after git updated the refs: spool what landed, start the recorder."""
    import os

    from auditsvc.hook import post_receive

    sys.exit(post_receive(settings_from(config_path), os.environ, sys.stdin, sys.stderr))


_DB_HELP = "Audit log URL (default: config db, AUDITSVC_DB)."
_FORMAT = click.option("-o", "--output", type=click.Choice(("text", "json")), default="text", show_default=True)


def _emit(output: str, value: Any, text: str) -> None:
    import json

    click.echo(json.dumps(value, indent=2, ensure_ascii=False) if output == "json" else text, nl=output == "json")


@cli.command()
@click.argument("resource", required=False)
@click.option("--path", help="History of the resources in this file instead (renames included).")
@click.option("--api-version", help="Only this apiVersion (default: any).")
@click.option("--repo", help="Only this repository.")
@click.option("--db", help=_DB_HELP)
@_FORMAT
@config_option
def history(
    resource: str | None, path: str | None, api_version: str | None, repo: str | None, db: str | None, output: str,
    config_path: str | None,
) -> None:
    """Every recorded change of RESOURCE (KIND/NAMESPACE/NAME, or KIND/NAME when cluster-scoped), oldest first.

    Each change shows its time (push time; commit time for imported history), commit, author and
    pusher, operation, resource, file and field diff.
    """
    from auditsvc import queries

    if bool(resource) == bool(path):
        raise click.UsageError("give either KIND/NAMESPACE/NAME (or KIND/NAME) or --path FILE")
    settings = settings_from(config_path, db=db)
    with existing_log(settings) as log:
        if path:
            found = queries.history_by_path(log, path, repo=repo)
            empty = f"no changes recorded for {path}"
        else:
            kind, namespace, name = queries.parse_resource(resource or "")
            found = queries.history(log, kind, namespace, name, api_version=api_version, repo=repo)
            empty = f"no changes recorded for {resource}"
        _emit(output, [c.to_dict() for c in found] if output == "json" else None, queries.render_changes(found, empty))


@cli.command()
@click.option("--actor", help="Pusher or author: name or email (case-insensitive).")
@click.option("--kind", help="Resource kind, e.g. Deployment.")
@click.option("--namespace", help="Resource namespace (\"\" for cluster-scoped resources).")
@click.option("--repo", help="Repository name.")
@click.option("--ref", help="Ref: refs/heads/main, or a branch or tag name.")
@click.option("--field", help="Changed field or a parent of it: spec.replicas, spec.template.spec.containers[*].image.")
@click.option("--path", help="Manifest file: changes of the resources in it (renames included).")
@click.option("--since", help="From this time on: 7d, 12h, 2026-01-31 or ISO-8601 (UTC unless an offset is given).")
@click.option("--until", help="Up to this time (a date includes that whole day); same forms as --since.")
@click.option("--rollbacks", is_flag=True, help="Only changes that brought back an earlier version of their resource.")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="At most this many, newest first.")
@click.option("--db", help=_DB_HELP)
@_FORMAT
@config_option
def changes(db: str | None, output: str, config_path: str | None, **filters: Any) -> None:
    """Recorded changes matching every filter given, newest first."""
    from auditsvc import queries

    settings = settings_from(config_path, db=db)
    with existing_log(settings) as log:
        found = queries.changes(log, **filters)
        _emit(output, [c.to_dict() for c in found] if output == "json" else None, queries.render_changes(found, "no matching changes"))


@cli.command()
@click.argument("commit")
@click.option("--db", help=_DB_HELP)
@_FORMAT
@config_option
def show(commit: str, db: str | None, output: str, config_path: str | None) -> None:
    """Everything recorded for COMMIT (4+ hex digits): push decisions, overrides, changes."""
    from auditsvc import queries

    settings = settings_from(config_path, db=db)
    with existing_log(settings) as log:
        record = queries.show(log, commit)
        _emit(output, record.to_dict(), queries.render_show(record))


@cli.command()
@click.option("--at", "at", required=True, help="A time (ISO-8601, 2026-01-31, 7d) or a commit id.")
@click.option("--repo", help="Only this repository.")
@click.option("--ref", help="Only this ref (refs/heads/main, or a branch or tag name).")
@click.option("--db", help=_DB_HELP)
@_FORMAT
@config_option
def state(at: str, repo: str | None, ref: str | None, db: str | None, output: str, config_path: str | None) -> None:
    """The desired state as of a time or a commit: every resource's last version then, per repo and ref.

    Deleted resources are left out. -o json includes each resource's contents.
    """
    from auditsvc import queries

    settings = settings_from(config_path, db=db)
    with existing_log(settings) as log:
        found = queries.state(log, at, repo=repo, ref=ref)
        _emit(output, found.to_dict(), queries.render_state(found))


@cli.command()
@click.option("--commit", help="Full commit id: its deploys (or those of the push tip that brought it) and lead time.")
@click.option("--cluster", help="Only this cluster.")
@click.option("--db", help=_DB_HELP)
@_FORMAT
@config_option
def deploys(commit: str | None, cluster: str | None, db: str | None, output: str, config_path: str | None) -> None:
    """Deploy and drift events recorded from Flux, oldest first; with --commit, when it reached each cluster."""
    from auditsvc import flux
    from auditsvc.errors import AuditError

    settings = settings_from(config_path, db=db)
    with existing_log(settings) as log:
        found = flux.deploys(log, commit=commit, cluster=cluster)
        lead = None
        if commit:
            try:
                lead = flux.lead_time(log, commit)
            except AuditError:
                lead = None  # deployed, but no push or change of it is recorded
        value = {"items": [e.to_dict() for e in found], "lead_time": lead}
        _emit(output, value, flux.render_deploys(found, lead))


@cli.command("import")
@click.argument("git_dir", type=click.Path(file_okay=False))
@click.option("--ref", "refs", multiple=True, help="Ref to import (repeatable; default: every branch).")
@click.option("--repo", help="Repository name to record (default: as the hook names it, from the directory).")
@click.option("--batch-size", type=click.IntRange(min=1), default=500, show_default=True, help="Commits per transaction.")
@click.option("--db", help=_DB_HELP)
@_FORMAT
@config_option
def import_command(
    git_dir: str, refs: tuple[str, ...], repo: str | None, batch_size: int, db: str | None, output: str,
    config_path: str | None,
) -> None:
    """Record the existing history of GIT_DIR as change events (pusher unknown), plus import provenance.

    Idempotent and resumable: commits already recorded (by pushes or an earlier, possibly
    interrupted, import) add nothing.
    """
    from auditsvc.audit import open_log
    from auditsvc.importer import import_history

    settings = settings_from(config_path, db=db)
    bar: Any = None
    shown = 0

    def progress(done: int, total: int) -> None:
        nonlocal bar, shown
        if not sys.stderr.isatty() or not total:
            return
        if bar is None:
            bar = click.progressbar(length=total, label="importing commits", file=sys.stderr)
            bar.__enter__()
        bar.update(done - shown)
        shown = done

    try:
        with open_log(settings.db) as log:
            result = import_history(log, git_dir, settings, refs=refs, repo=repo, batch_size=batch_size, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    _emit(output, result.to_dict(), f"{result}\n")


def existing_log(settings: Settings) -> Any:
    """The audit log named by the settings; an error (not a new empty log) when it does not exist."""
    from auditsvc.audit import open_log
    from auditsvc.audit.store import NoAuditLog

    try:
        return open_log(settings.db, create=False)
    except NoAuditLog as err:
        raise ConfigError(f"{err}: check --db / AUDITSVC_DB / the config's db") from None


@cli.command("init")
@click.option("--db", help=_DB_HELP)
@click.option(
    "--grant-writer", "writers", multiple=True, metavar="ROLE",
    help="PostgreSQL: let this existing role append and read, and nothing else (repeatable).",
)
@config_option
def init_command(db: str | None, writers: tuple[str, ...], config_path: str | None) -> None:
    """Create the audit log (or upgrade its schema); run it as the database owner.

    Receivers then connect as a role given --grant-writer: INSERT and SELECT only, so they
    can neither change nor delete what is recorded, nor drop the triggers that refuse it.
    """
    from auditsvc.audit import open_log
    from auditsvc.audit.postgres import PostgresAuditLog

    settings = settings_from(config_path, db=db)
    with open_log(settings.db) as log:
        if writers and not isinstance(log, PostgresAuditLog):
            raise ConfigError("--grant-writer is for a PostgreSQL audit log (a SQLite file is guarded by file permissions)")
        for role in writers:
            log.grant_writer(role)
        granted = f"; {', '.join(writers)} may append and read" if writers else ""
        click.echo(f"audit log ready at {log.location}: {log.size()} events{granted}")


@cli.command()
@click.option("--from", "source_url", required=True, help="The log to copy (URL), e.g. sqlite:////var/auditsvc/audit.db.")
@click.option("--to", "target_url", required=True, help="Where to copy it (URL): empty, or an earlier copy of the same log.")
@_FORMAT
def migrate(source_url: str, target_url: str, output: str) -> None:
    """Copy an audit log to another database, every hash and signature as it is, and verify the copy.

    The source must verify. Run it again after an interruption, or to bring a copy up to date:
    events already copied are kept and checked. The signing key is copied to the target's key
    path (for PostgreSQL, the signing_key URL parameter).
    """
    from auditsvc.audit import open_log
    from auditsvc.audit.migrate import migrate as copy_log
    from auditsvc.audit.store import NoAuditLog

    try:
        source = open_log(source_url, create=False)
    except NoAuditLog as err:
        raise ConfigError(f"{err}: check --from") from None
    with source, open_log(target_url) as target:
        result = copy_log(source, target)
    _emit(output, result.to_dict(), f"{result}\n")


@cli.command()
@click.option("--db", help="Audit log URL (default: config db, AUDITSVC_DB).")
@click.option("--public-key", help="Pinned public key (file with base64, raw or PEM) to check checkpoints against.")
@click.option("-o", "--output", type=click.Choice(("text", "json")), default="text", show_default=True)
@config_option
def verify(db: str | None, public_key: str | None, output: str, config_path: str | None) -> None:
    """Recompute every leaf hash, the tree at every checkpoint and every signature.

    Exit 1 naming the first bad event when anything was changed, removed or reordered.
    """
    import json

    settings = settings_from(config_path, db=db)
    with existing_log(settings) as log:
        report = log.verify(_read_key(public_key) if public_key else None)
    click.echo(json.dumps(report.to_dict(), indent=2) if output == "json" else str(report))
    sys.exit(0 if report.ok else 1)


def _read_key(path: str) -> bytes | str:
    """A public key file: 32 raw bytes, or text holding base64 or PEM."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as err:
        raise ConfigError(f"cannot read public key {path}: {err.strerror}") from None
    if len(data) == 32:
        return data
    try:
        return data.decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"{path} is not a public key (32 raw bytes, base64 or PEM)") from None


@cli.command()
@click.argument("seq", type=int)
@click.option("--db", help="Audit log URL (default: config db, AUDITSVC_DB).")
@config_option
def prove(seq: int, db: str | None, config_path: str | None) -> None:
    """Print an inclusion proof for event SEQ against the latest signed checkpoint.

    The JSON holds the event's leaf, the audit path, the checkpoint and the public
    key: `auditsvc verify-proof` checks it offline, without the database.
    """
    import json

    from auditsvc.audit.signing import public_key_base64

    settings = settings_from(config_path, db=db)
    with existing_log(settings) as log:
        if log.get(seq) is None:
            raise ConfigError(f"no event {seq} in the audit log (it holds {log.size()} events)")
        checkpoint = log.latest_checkpoint()
        if checkpoint is None or checkpoint.size < seq:
            checkpoint = log.checkpoint(log.location)  # never the URL itself: it may hold a password
        proof = log.prove(seq, checkpoint.size)
        document = {
            "proof": json.loads(proof.to_json()),
            "checkpoint": checkpoint.to_dict(),
            "public_key": public_key_base64(log.public_key()),
        }
    click.echo(json.dumps(document, indent=2))


@cli.command("verify-proof")
@click.argument("proof_file", type=click.File("rb"))
@click.option("--public-key", help="The log's public key as you obtained it independently (recommended).")
def verify_proof_command(proof_file: Any, public_key: str | None) -> None:
    """Check a proof printed by `auditsvc prove`, offline. Exit 1 if it does not verify."""
    import json

    from auditsvc.audit import verify_proof

    try:
        document = json.load(proof_file)
        proof, checkpoint, embedded = document["proof"], document["checkpoint"], document["public_key"]
    except (ValueError, KeyError, TypeError):
        raise ConfigError("not a proof file from `auditsvc prove` (expected proof, checkpoint and public_key)") from None
    key = _read_key(public_key) if public_key else embedded
    if verify_proof(proof, checkpoint, key):
        source = "" if public_key else " (with the key inside the file: pass --public-key to pin the log's key)"
        click.echo(f"event {proof.get('seq')} is included in the signed tree of size {proof.get('size')}{source}")
        sys.exit(0)
    click.echo(f"proof does NOT verify for event {proof.get('seq')}")
    sys.exit(1)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@click.option("--workers", type=click.IntRange(min=1), default=2, show_default=True, help="gunicorn worker processes.")
@config_option
def serve(host: str, port: int, workers: int, config_path: str | None) -> None:
    """Run the HTTP service (webhooks, validate and query API) under gunicorn."""
    from auditsvc.web.server import serve as run

    run(settings_from(config_path), host, port, workers)


@cli.group()
def token() -> None:
    """API tokens for the HTTP service (stored hashed; the token is printed once)."""


@token.command("create")
@click.option("--role", type=click.Choice(("reader", "auditor", "admin")), required=True)
@click.option("--name", required=True, help="Who or what uses the token.")
@click.option("--repo", "repos", multiple=True, help="Limit the token to this repository (repeatable).")
@config_option
def token_create(role: str, name: str, repos: tuple[str, ...], config_path: str | None) -> None:
    """Create a token and print it, alone, on standard output."""
    from auditsvc.web.store import ServiceStore

    with ServiceStore.open(settings_from(config_path).service_dir) as store:
        click.echo(store.create_token(name, role, repos))


@token.command("revoke")
@click.argument("name")
@config_option
def token_revoke(name: str, config_path: str | None) -> None:
    """Revoke the token called NAME: it stops working at once."""
    from auditsvc.web.store import ServiceStore

    with ServiceStore.open(settings_from(config_path).service_dir) as store:
        if not store.revoke_token(name):
            raise ConfigError(f"no live token named {name!r}")
    click.echo(f"token {name!r} revoked")


@cli.command("export")
@click.option("--from", "start", required=True, help="First day or time: 2026-01-01, ISO-8601, or a span such as 90d.")
@click.option("--to", "end", default="now", show_default=True, help="Last day (included whole) or time.")
@click.option("--repo", help="Only events of this repository.")
@click.option("--format", "format_", type=click.Choice(("csv", "jsonl", "bundle", "html", "oscal")), required=True)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False, allow_dash=True), help="File to write (- for standard output).")
@click.option("--db", help=_DB_HELP)
@config_option
def export_command(
    start: str, end: str, repo: str | None, format_: str, output: str, db: str | None, config_path: str | None
) -> None:
    """Export the events recorded in a period for auditors (see README, "For auditors").

    csv: one row per change (the population list); jsonl: every event; bundle: ZIP evidence that
    `auditsvc verify-bundle` checks offline; html: a printable report; oscal: OSCAL assessment
    results. The export itself is recorded in the log as an `access` event.
    """
    import dataclasses
    import os

    from auditsvc.export import Period, export
    from auditsvc.identity import pusher_from_env

    settings = settings_from(config_path, db=db)
    period = Period.parse(start, end, repo)
    with existing_log(settings) as log:
        chunks = export(log, format_, period, actor=dataclasses.asdict(pusher_from_env(os.environ)), origin=log.location)
        _write_atomically(output, chunks)


def _write_atomically(output: str, chunks: Any) -> None:
    """Stream chunks to stdout, or to a temporary file renamed over output when complete."""
    import os

    if output == "-":
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    partial = f"{output}.partial"
    try:
        with open(partial, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
        os.replace(partial, output)
    except OSError as err:
        raise ConfigError(f"cannot write {output}: {err.strerror}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)


@cli.command("verify-bundle")
@click.argument("bundle", type=click.Path(exists=True, dir_okay=False))
@click.option("--public-key", help="File with the log's public key (PEM, base64 or raw), as you obtained it independently (recommended).")
@click.option("-o", "--output", type=click.Choice(("text", "json")), default="text", show_default=True)
def verify_bundle_command(bundle: str, public_key: str | None, output: str) -> None:
    """Check an evidence bundle offline, without the database. Exit 1 naming what failed."""
    import json

    from auditsvc.export import verify_bundle

    report = verify_bundle(bundle, _read_key(public_key) if public_key else None)
    if output == "json":
        click.echo(json.dumps(report.to_dict(), indent=2))
    else:
        click.echo(str(report))
        for problem in report.problems[1:]:
            click.echo(f"  also: {problem}")
    sys.exit(0 if report.ok else 1)


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
