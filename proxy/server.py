"""``python -m proxy.server``: daphne, with the webhook's secret masked in its access log.

Cyclr documents no way to authenticate the Marketplace notification but its URL, so the secret is in the
path (``proxy/webhook/<secret>/``), and daphne's command line writes every request's path to its access log
(stdout at its default verbosity): whoever reads that log could forge every notification. Daphne writes
that log to a stream, not through Python's logging, so no ``LOGGING`` filter reaches it.

This runs daphne's own command line (``daphne.cli.CommandLineInterface``: the same options, the same
defaults) with a server whose ``log_action`` masks each logged path (``proxy.logs.mask_webhook_path``) and
escapes it (``loggable``: a ``%0A`` decoded by the server starts no forged line), before daphne's access logger (or any ``action_logger``) sees it::

    python -m proxy.server -b 127.0.0.1 -p 8001 --proxy-headers yourproject.asgi:application
"""
from daphne.cli import CommandLineInterface
from daphne.server import Server

from .logs import loggable, mask_webhook_path


class MaskedServer(Server):
    """Daphne's server, handing its action logger each request's path masked and escaped."""

    def log_action(self, protocol, action, details):
        path = details.get("path")
        if isinstance(path, str):
            details = {**details, "path": loggable(mask_webhook_path(path))}
        super().log_action(protocol, action, details)


class MaskedCommandLineInterface(CommandLineInterface):
    """``daphne``'s command line, serving with ``MaskedServer``."""

    server_class = MaskedServer


def main():
    MaskedCommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
