"""What the kit stores: launches, each result's arrivals, receivers that failed, and Marketplace webhook deliveries."""
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Launch(models.Model):
    """One opening of the Marketplace for one user and Cyclr account, awaiting one result."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for the result"
        RECEIVED = "received", "Result stored, not yet verified"
        COMPLETED = "completed", "Installed and verified"
        FAILED = "failed", "Install failed or could not be verified"
        EXPIRED = "expired", "Closed unanswered when its time ran out"

    class Mode(models.TextChoices):
        POPUP = "popup", "Proxy page in a popup"
        INLINE = "inline", "Proxy page in an iframe"
        REDIRECT = "redirect", "Marketplace at top level, result by redirect"
        DIRECT = "direct", "Marketplace at top level in a popup, result to the opener"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cyclr_launches")
    account_api_id = models.CharField("account API id", max_length=255, help_text="The host's own id for the Cyclr account.")
    cyclr_account_id = models.CharField("Cyclr account GUID", max_length=255, blank=True,
                                        help_text="Cyclr's internal id for the account, once learned; empty until then.")
    marketplace_id = models.PositiveIntegerField()
    marketplace_origin = models.CharField(max_length=255, blank=True)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.POPUP)
    preset = models.CharField("LAUNCH preset", max_length=50, blank=True,
                              help_text='The CYCLR_PROXY["LAUNCHES"] preset it was minted with (LAUNCH), or empty (Marketplace).')
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=16, blank=True, help_text="The delivery path of the first accepted result.")
    result_raw = models.JSONField(null=True, blank=True, help_text="The result object exactly as received.")
    claim = models.JSONField(null=True, blank=True, help_text="What the accepted result claimed, normalized.")
    result = models.JSONField(null=True, blank=True, help_text="The result as recorded: what Cyclr vouches for once verified.")
    claim_mismatches = models.JSONField(default=list, blank=True, help_text="Where the claim disagreed with Cyclr.")
    failure_code = models.CharField(max_length=64, blank=True,
                                    help_text="Why it failed or expired (an error code); empty while it has not.")
    failure_message = models.TextField(blank=True)
    signal_sent_at = models.DateTimeField(null=True, blank=True,
                                          help_text="When install_completed or install_failed went out; empty until then.")
    signal_claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a process took on sending the signal.")
    settle_attempts = models.PositiveIntegerField(default=0, help_text="Verification attempts started for this result.")
    last_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the last verification attempt started.")
    next_attempt_at = models.DateTimeField(null=True, blank=True,
                                           help_text="When the next verification attempt is due, after Cyclr could not be asked.")
    last_attempt_error_code = models.CharField(max_length=64, blank=True,
                                               help_text="The API error's code if the last verification attempt "
                                                         "could not ask Cyclr; else empty.")
    last_attempt_error_message = models.TextField(blank=True, help_text="Cyclr's error from that attempt.")
    nonce_hash = models.CharField(max_length=64, blank=True, editable=False,
                                  help_text="Hash of the opening window's nonce (redirect and direct modes).")
    next_url = models.CharField("next", max_length=2048, blank=True,
                                help_text="The page the window goes back to after the result (redirect mode in the same tab).")

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "-created_at"])]
        verbose_name_plural = "launches"  # not Django's "launchs"

    def __str__(self):
        return f"Launch {self.id} ({self.status})"

    @property
    def x_cyclr_account(self) -> str:
        """The ``X-Cyclr-Account`` value for this launch's account (``CYCLR_PROXY["ACCOUNT_HEADER"]``)."""
        from .accounts import account_header

        return account_header(self.account_api_id, self.cyclr_account_id)

    @property
    def is_expired(self) -> bool:
        return self.status == self.Status.EXPIRED or (self.status == self.Status.PENDING and timezone.now() >= self.expires_at)

    def install_result(self):
        """What Cyclr vouches for, as an ``InstallResult`` (None before a result arrived).

        Verified once the launch is ``completed`` or ``failed``; while ``received``, the claim
        without any webhook URL Cyclr has not vouched for.
        """
        from .results import InstallResult

        if self.result is None:
            return None
        return InstallResult.from_json(self.result, raw=self.result_raw)

    def claimed_result(self):
        """The first accepted arrival's claim, as an ``InstallResult`` (None before a result arrived)."""
        from .results import InstallResult

        data = self.claim if self.claim is not None else self.result
        if data is None:
            return None
        return InstallResult.from_json(data, raw=self.result_raw)


class Arrival(models.Model):
    """A valid result that arrived for a launch, by which path, and whether it was the first.

    Repeats collapse: a duplicate from the same source with the same message id or the same
    content updates one row's ``count`` and ``last_received_at`` instead of adding a row.
    """

    class Source(models.TextChoices):
        SOCKET = "socket", "WebSocket from the proxy page"
        HTTP = "http", "HTTP fallback"
        WEBHOOK = "webhook", "Marketplace webhook"

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="arrivals")
    source = models.CharField(max_length=16, choices=Source.choices)
    message_id = models.CharField(max_length=64, blank=True)
    received_at = models.DateTimeField(default=timezone.now)
    duplicate = models.BooleanField(default=False, help_text="A repeat of a result the launch already had.")
    content_hash = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the result as received (canonical JSON).")
    count = models.PositiveIntegerField(default=1, help_text="How many times this arrival came (repeats collapse here).")
    last_received_at = models.DateTimeField(default=timezone.now)
    # docs/verification.md, "Only Cyclr settles a launch".
    refused_code = models.CharField(max_length=64, blank=True,
                                    help_text="Why Cyclr's verification refused this claim; empty if it did not.")
    refused_message = models.TextField(blank=True)
    mismatches = models.JSONField(default=list, blank=True, help_text="Where this refused claim disagreed with Cyclr.")

    class Meta:
        ordering = ["received_at"]

    @property
    def refused(self) -> bool:
        return bool(self.refused_code)


class RecordedCycle(models.Model):
    """A cycle id some launch's result has claimed: unique, so one install cannot complete two launches.

    Written with the launch's first accepted result, in the same transaction; the database's
    uniqueness refuses a concurrent delivery of the same cycles for another launch.
    """

    cycle_id = models.CharField(max_length=64, unique=True)
    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="recorded_cycles")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["recorded_at"]

    def __str__(self):
        return f"Cycle {self.cycle_id} (launch {self.launch_id})"


class ReceiverFailure(models.Model):
    """A signal receiver that raised while handling a launch's result or an installation's change; replayable."""

    launch = models.ForeignKey(Launch, on_delete=models.CASCADE, related_name="receiver_failures", null=True, blank=True)
    change = models.ForeignKey("InstallationChange", on_delete=models.CASCADE, related_name="receiver_failures",
                               null=True, blank=True)
    signal = models.CharField(max_length=64)
    receiver = models.CharField(max_length=255)
    error = models.TextField()
    traceback = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]


class WebhookDelivery(models.Model):
    """One call to the Marketplace Notification URL, stored as it arrived, then processed.

    A row is written only for a caller that knew the secret and sent a JSON object within
    ``MAX_RESULT_BYTES`` (see ``proxy.webhooks``); ``body`` keeps it byte for byte, so what
    Cyclr sent can be looked at, and reprocessed, whatever the processing made of it.
    """

    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    status = models.CharField(max_length=32, blank=True, help_text="Cyclr's Status: installed, uninstalled, started, stopped.")
    body = models.TextField(help_text="The request body exactly as received.")
    remote_addr = models.GenericIPAddressField(null=True, blank=True)
    valid = models.BooleanField(default=False, help_text="The body has the shape Cyclr documents.")
    processed = models.BooleanField(default=False, help_text="Its result was accepted (perhaps as a duplicate) or its change "
                                                                "recorded; if not, error_code says why.")
    launch = models.ForeignKey(Launch, on_delete=models.SET_NULL, null=True, blank=True, related_name="webhook_deliveries")
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-received_at"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self):
        return f"Webhook {self.status or '?'} at {self.received_at:%Y-%m-%d %H:%M:%S} ({self.error_code or ('ok' if self.processed else 'pending')})"


class Installation(models.Model):
    """What one Cyclr account has installed from one Marketplace package, kept true from every channel.

    Written only by ``proxy.installations`` (accepted install results, Marketplace notifications,
    reconciliation with Cyclr's API). ``package_id`` 0 holds cycles Cyclr lists that no install
    result or notification explained (found by reconciliation), and LAUNCH installs.

    Every install of the package by the account adds its cycles here (an account may install one
    package twice), so ``state`` follows from the cycles: ``installed`` while any cycle is not
    removed; ``is_running`` while any of those is ``Active``.
    """

    class State(models.TextChoices):
        INSTALLED = "installed", "Installed"
        UNINSTALLED = "uninstalled", "Uninstalled"

    account_api_id = models.CharField("account API id", max_length=255)
    cyclr_account_id = models.CharField("Cyclr account GUID", max_length=255, blank=True)
    package_id = models.PositiveIntegerField("Marketplace package", default=0)
    state = models.CharField(max_length=16, choices=State.choices, default=State.INSTALLED)
    launch = models.ForeignKey(Launch, on_delete=models.SET_NULL, null=True, blank=True, related_name="installations",
                               help_text="The launch whose verified result last installed it, if any.")
    created_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(default=timezone.now)
    changed_by = models.CharField(max_length=16, blank=True, help_text="The source of the last change: install, webhook, reconcile.")

    class Meta:
        ordering = ["-changed_at"]
        constraints = [models.UniqueConstraint(fields=["account_api_id", "package_id"], name="proxy_installation_api_id_package")]

    def __str__(self):
        package = f"package {self.package_id}" if self.package_id else "unattributed cycles"
        return f"{package} of {self.account_api_id} ({self.state})"

    @property
    def x_cyclr_account(self) -> str:
        """The ``X-Cyclr-Account`` value for this installation's account (``CYCLR_PROXY["ACCOUNT_HEADER"]``)."""
        from .accounts import account_header

        return account_header(self.account_api_id, self.cyclr_account_id)

    @property
    def is_installed(self):
        return self.state == self.State.INSTALLED

    @property
    def is_running(self):
        """True while it is installed and any of its installed cycles is ``Active`` (asks the database)."""
        return self.is_installed and self.cycles.filter(removed_at__isnull=True, status="Active").exists()


class InstallationCycle(models.Model):
    """One cycle of an installation, as Cyclr last said it was."""

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="cycles")
    cycle_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=255, blank=True)
    template_id = models.CharField(max_length=64, blank=True)
    template_release_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, blank=True, help_text="Active or Stopped (the API's Paused is Stopped).")
    cyclr_status = models.CharField(max_length=16, blank=True, help_text="Cyclr's own word for the status, as last reported.")
    removed_at = models.DateTimeField(null=True, blank=True, help_text="When Cyclr stopped listing it (uninstalled).")
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["installation", "cycle_id"]

    def __str__(self):
        return f"cycle {self.cycle_id} ({'removed' if self.removed_at else self.status or '?'})"


class InstallationChange(models.Model):
    """One change of an installation's state, with its source: the record its signal is sent (once) for."""

    class Kind(models.TextChoices):
        INSTALLED = "installed", "Installed"
        UNINSTALLED = "uninstalled", "Uninstalled"
        STARTED = "started", "Started"
        STOPPED = "stopped", "Stopped"

    installation = models.ForeignKey(Installation, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, help_text="install, webhook or reconcile.")
    event = models.JSONField(help_text="What Cyclr said (or reconciliation found), normalized, with its raw payload.")
    created_at = models.DateTimeField(default=timezone.now)
    signal_sent_at = models.DateTimeField(null=True, blank=True, help_text="When its signal went out; empty until then.")
    signal_claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a process took on sending the signal.")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.kind} by {self.source} at {self.created_at:%Y-%m-%d %H:%M:%S}"
