"""auditsvc: a policy gate and audit trail for GitOps repositories."""

__version__ = "0.1.0"
