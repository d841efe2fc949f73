import os

from django.apps import AppConfig


def log_signal(name):
    def receiver(sender, launch, **kwargs):
        # One short write in append mode: lines from both workers never interleave.
        with open(os.environ["SIGNAL_LOG"], "a") as log:
            log.write(f"{name} {launch.pk} {os.getpid()}\n")

    return receiver


class ScaleoutWorkerConfig(AppConfig):
    name = "tests.example.scaleout_worker"
    label = "scaleout_worker"

    def ready(self):
        from proxy import signals

        if os.environ.get("SIGNAL_LOG"):
            signals.install_completed.connect(log_signal("install_completed"), weak=False, dispatch_uid="scaleout-completed")
            signals.install_failed.connect(log_signal("install_failed"), weak=False, dispatch_uid="scaleout-failed")
