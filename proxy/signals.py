"""Signals the kit sends, each once, after the change it reports is committed.

Install signals (once per launch): receivers get ``launch`` (``proxy.models.Launch``), ``result``
(``proxy.results.InstallResult``) and ``source`` (``"socket"``, ``"http"`` or ``"webhook"``).

Lifecycle signals (once per change of an installation's stored state, never for a notification that
changes nothing): receivers get ``installation`` (``proxy.models.Installation``), ``event``
(``proxy.installations.IntegrationEvent``: status, account_id, account_api_id, package_id, cycles, raw)
and ``source`` (``"webhook"`` or ``"reconcile"``; ``"install"`` when a new install starts a stopped
installation). The state follows from the installation's cycles (every install of its package): uninstalled
once none is left, running while any is ``Active``; see ``proxy.installations``. ``integration_installed``
reports an installation becoming installed that no launch explains (Cyclr's console, ORBIT, a launch that
expired first, or reconciliation finding cycles it had no record of); a launch's install is reported by
``install_completed`` alone.

A receiver that raises does not stop the others and does not lose anything: the failure is stored as
a ``ReceiverFailure`` with its traceback and can be replayed with ``manage.py proxy_replay``.
"""
from django.dispatch import Signal

install_completed = Signal()  #: provides args: launch, result, source
install_failed = Signal()  #: provides args: launch, result, source, reason (ProxyError)

integration_installed = Signal()  #: provides args: installation, event, source (never "install")
integration_uninstalled = Signal()  #: provides args: installation, event, source
integration_started = Signal()  #: provides args: installation, event, source
integration_stopped = Signal()  #: provides args: installation, event, source
