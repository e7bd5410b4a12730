"""Errors that end a command with a one-line explanation instead of a traceback."""


class AuditsvcError(Exception):
    """Base class: the message says what is wrong and what to do."""


class ConfigError(AuditsvcError):
    """The configuration file, environment or flags are invalid."""


class PolicyError(AuditsvcError):
    """A policy cannot be loaded, compiled or evaluated."""


class PolicyServerUnavailable(PolicyError):
    """The OPA server did not answer in time or cannot be reached: no decision, so the fail mode applies."""


class SchemaError(AuditsvcError):
    """A schema file or schema directory cannot be used."""


class GitError(AuditsvcError):
    """A git command failed or a revision does not exist."""


class AuditError(AuditsvcError):
    """The audit log, its key or a proof cannot be used."""
