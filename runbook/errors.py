"""The CLI's one error type: printed as one clear line with a non-zero exit."""


class CliError(Exception):
    """A problem the operator can act on (unknown incident, already resolved, no stack...)."""

    exit_code = 1
