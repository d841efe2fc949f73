"""A read-only view of launches, their arrivals and receiver failures, and webhook deliveries, with replay actions.

Webhook URLs are secrets (anyone holding one can trigger the cycle): every field that can hold one (the raw and
normalized results, the claim and its disagreements with Cyclr, a webhook's body, an installation change's event,
a receiver's error and traceback) is shown through ``proxy.masking``.
"""
import json

from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from .masking import mask_text, mask_webhook_urls
from .models import (Arrival, Installation, InstallationChange, InstallationCycle, Launch, ReceiverFailure, RecordedCycle,
                     WebhookDelivery)
from .replay import replay_change, replay_launch
from .notifications import process_delivery


def masked_json(value):
    """``value`` (a JSON field's content) as indented JSON with its webhook URLs masked, in a <pre>."""
    if value is None:
        return "-"
    return format_html("<pre>{}</pre>", json.dumps(mask_webhook_urls(value), indent=2, ensure_ascii=False))


def masked_text(value):
    return format_html("<pre>{}</pre>", mask_text(value)) if value else "-"


def readonly_fields_with(model, masked):
    """Every field of ``model`` read-only, the ones in ``masked`` (name -> display method) swapped for their masked form."""
    return [masked.get(f.name, f.name) for f in model._meta.fields]


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ArrivalInline(ReadOnlyInline):
    model = Arrival
    fields = ("received_at", "source", "message_id", "duplicate", "count", "last_received_at", "refused_code",
              "refused_message")
    readonly_fields = fields


class RecordedCycleInline(ReadOnlyInline):
    model = RecordedCycle
    fields = ("cycle_id", "recorded_at")
    readonly_fields = fields


class ReceiverFailureInline(ReadOnlyInline):
    model = ReceiverFailure
    fields = ("created_at", "signal", "receiver", "error_masked", "traceback_masked", "resolved_at")
    readonly_fields = fields

    @admin.display(description="error")
    def error_masked(self, obj):
        return masked_text(obj.error)

    @admin.display(description="traceback")
    def traceback_masked(self, obj):
        return masked_text(obj.traceback)


@admin.register(Launch)
class LaunchAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "account_api_id", "marketplace", "status", "source", "created_at", "completed_at")
    list_filter = ("status", "source", "mode", "marketplace_id")
    search_fields = ("id", "account_api_id", "cyclr_account_id", "user__username")
    inlines = [ArrivalInline, RecordedCycleInline, ReceiverFailureInline]
    actions = ["replay"]
    exclude = ("result_raw", "claim", "result", "claim_mismatches")

    def get_readonly_fields(self, request, obj=None):
        masked = {"result_raw": "result_raw_masked", "claim": "claim_masked", "result": "result_masked",
                  "claim_mismatches": "disagreements"}
        return readonly_fields_with(self.model, masked)

    @admin.display(description="Marketplace", ordering="marketplace_id")
    def marketplace(self, obj):
        return obj.marketplace_id

    @admin.display(description="result as received (webhook URLs masked)")
    def result_raw_masked(self, obj):
        return masked_json(obj.result_raw)

    @admin.display(description="claim (webhook URLs masked)")
    def claim_masked(self, obj):
        return masked_json(obj.claim)

    @admin.display(description="result (webhook URLs masked)")
    def result_masked(self, obj):
        return masked_json(obj.result)

    @admin.display(description="Claim vs Cyclr")
    def disagreements(self, obj):
        """Each field where a claimed result disagreed with Cyclr, side by side (webhook URLs masked): the refused
        claims' (their arrivals keep them) and any the launch's own verdict kept."""
        mismatches = [m for refused in obj.arrivals.exclude(refused_code="").values_list("mismatches", flat=True)
                      for m in refused or ()] + list(obj.claim_mismatches or ())
        if not mismatches:
            return "—"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (m.get("cycle_id") or "(account)", m.get("field"), m.get("claimed"), m.get("cyclr"))
            for m in mask_webhook_urls(mismatches) if isinstance(m, dict)))
        return format_html("<table><thead><tr><th>cycle</th><th>field</th><th>claimed</th><th>Cyclr</th></tr></thead>"
                           "<tbody>{}</tbody></table>", rows)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay: verify unverified results and rerun failed receivers")
    def replay(self, request, queryset):
        for launch in queryset:
            report = replay_launch(launch)
            self.message_user(request, f"{launch.pk}: {report}", messages.INFO)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ("received_at", "status", "valid", "processed", "launch", "error_code")
    list_filter = ("status", "valid", "processed", "error_code")
    search_fields = ("launch__id", "error_code")
    date_hierarchy = "received_at"
    actions = ["reprocess"]
    exclude = ("body", "error_message")

    def get_readonly_fields(self, request, obj=None):
        return readonly_fields_with(self.model, {"body": "body_masked", "error_message": "error_message_masked"})

    @admin.display(description="body as received (webhook URLs masked)")
    def body_masked(self, obj):
        return masked_text(obj.body)

    @admin.display(description="error message")
    def error_message_masked(self, obj):
        return masked_text(obj.error_message)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Reprocess: apply the stored notification again")
    def reprocess(self, request, queryset):
        for delivery in queryset.order_by("received_at"):
            status, answer = process_delivery(delivery)
            self.message_user(request, f"Delivery {delivery.pk}: {status} {answer.get('status') or answer.get('code')}",
                              messages.INFO if status < 400 else messages.WARNING)


class InstallationCycleInline(ReadOnlyInline):
    model = InstallationCycle
    fields = ("cycle_id", "name", "status", "template_id", "template_release_id", "removed_at", "changed_at")
    readonly_fields = fields


class InstallationChangeInline(ReadOnlyInline):
    model = InstallationChange
    fields = ("created_at", "kind", "source", "signal_sent_at")
    readonly_fields = fields
    show_change_link = True


@admin.register(Installation)
class InstallationAdmin(admin.ModelAdmin):
    """What each Cyclr account has installed, as the kit keeps it (read-only: Cyclr is the truth)."""

    list_display = ("account_api_id", "cyclr_account_id", "package_id", "state", "changed_at", "changed_by")
    list_filter = ("state", "changed_by", "package_id")
    search_fields = ("account_api_id", "cyclr_account_id", "cycles__cycle_id")
    inlines = [InstallationCycleInline, InstallationChangeInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False


class ChangeReceiverFailureInline(ReceiverFailureInline):
    fk_name = "change"


@admin.register(InstallationChange)
class InstallationChangeAdmin(admin.ModelAdmin):
    list_display = ("created_at", "installation", "kind", "source", "signal_sent_at")
    list_filter = ("kind", "source")
    inlines = [ChangeReceiverFailureInline]
    actions = ["replay"]
    exclude = ("event",)

    def get_readonly_fields(self, request, obj=None):
        return readonly_fields_with(self.model, {"event": "event_masked"})

    @admin.display(description="event (webhook URLs masked)")
    def event_masked(self, obj):
        return masked_json(obj.event)

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay: send the signal if it never went out and rerun failed receivers")
    def replay(self, request, queryset):
        for change in queryset:
            self.message_user(request, f"Change {change.pk}: {replay_change(change)}", messages.INFO)
