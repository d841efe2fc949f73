"""Signals sent once per launch, after the result is committed.

Receivers get ``launch`` (``proxy.models.Launch``), ``result`` (``proxy.results.InstallResult``)
and ``source`` (``"socket"``, ``"http"`` or ``"webhook"``). A receiver that raises does not stop
the others and does not lose the result: the failure is stored as a ``ReceiverFailure`` with its
traceback and can be replayed with ``manage.py proxy_replay``.
"""
from django.dispatch import Signal

install_completed = Signal()  #: provides args: launch, result, source
install_failed = Signal()  #: provides args: launch, result, source, reason (ProxyError)
