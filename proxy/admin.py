"""A read-only view of launches, their arrivals and receiver failures, with a replay action."""
from django.contrib import admin, messages

from .models import Arrival, Launch, ReceiverFailure
from .replay import replay_launch


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ArrivalInline(ReadOnlyInline):
    model = Arrival
    fields = ("received_at", "source", "message_id", "duplicate")
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
    inlines = [ArrivalInline, ReceiverFailureInline]
    actions = ["replay"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    @admin.action(description="Replay: verify unverified results and rerun failed receivers")
    def replay(self, request, queryset):
        for launch in queryset:
            report = replay_launch(launch)
            self.message_user(request, f"{launch.pk}: {report}", messages.INFO)
