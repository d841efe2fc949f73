"""A read-only view of launches, their arrivals and receiver failures, and webhook deliveries, with replay actions."""
from django.contrib import admin, messages
from django.utils.html import format_html, format_html_join

from .models import (Arrival, Installation, InstallationChange, InstallationCycle, Launch, ReceiverFailure, RecordedCycle,
                     WebhookDelivery)
from .replay import replay_change, replay_launch
from .webhooks import process_delivery


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ArrivalInline(ReadOnlyInline):
    model = Arrival
    fields = ("received_at", "source", "message_id", "duplicate", "count", "last_received_at")
    readonly_fields = fields


class RecordedCycleInline(ReadOnlyInline):
    model = RecordedCycle
    fields = ("cycle_id", "recorded_at")
    readonly_fields = fields


class ReceiverFailureInline(ReadOnlyInline):
    model = ReceiverFailure
    fields = ("created_at", "signal", "receiver", "error", "traceback", "resolved_at")
    readonly_fields = fields


@admin.register(Launch)
class LaunchAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "account_api_id", "status", "source", "created_at", "completed_at")
    list_filter = ("status", "source", "mode")
    search_fields = ("id", "account_api_id", "cyclr_account_id", "user__username")
    inlines = [ArrivalInline, RecordedCycleInline, ReceiverFailureInline]
    actions = ["replay"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["disagreements"]

    @admin.display(description="Claim vs Cyclr")
    def disagreements(self, obj):
        """Each field where the claimed result disagreed with Cyclr, side by side."""
        if not obj.claim_mismatches:
            return "—"
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (m.get("cycle_id") or "(account)", m.get("field"), m.get("claimed"), m.get("cyclr"))
            for m in obj.claim_mismatches if isinstance(m, dict)))
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

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

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


class ChangeReceiverFailureInline(ReadOnlyInline):
    model = ReceiverFailure
    fk_name = "change"
    fields = ("created_at", "signal", "receiver", "error", "traceback", "resolved_at")
    readonly_fields = fields


@admin.register(InstallationChange)
class InstallationChangeAdmin(admin.ModelAdmin):
    list_display = ("created_at", "installation", "kind", "source", "signal_sent_at")
    list_filter = ("kind", "source")
    inlines = [ChangeReceiverFailureInline]
    actions = ["replay"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay: send the signal if it never went out and rerun failed receivers")
    def replay(self, request, queryset):
        for change in queryset:
            self.message_user(request, f"Change {change.pk}: {replay_change(change)}", messages.INFO)
