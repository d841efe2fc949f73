"""The JSON frames the kit sends (see "Messages" in DESIGN.md)."""
from .exceptions import InvalidResult
from .models import Launch

COMPLETED = "proxy.install.completed"
FAILED = "proxy.install.failed"


def reason_of(launch):
    if launch.failure_code:
        return {"code": launch.failure_code, "message": launch.failure_message}
    return None


def ack(launch, message_id):
    """Server -> proxy page: the result is stored (and, if ``status`` says so, verified)."""
    return {
        "type": "ack",
        "id": message_id,
        "launch": str(launch.id),
        "status": launch.status,
        "result": launch.result,
        "reason": reason_of(launch),
    }


def error(exc, message_id=None):
    """Server -> proxy page: the message was refused; ``code`` is stable, ``message`` is for people.

    A result of the wrong shape has code ``invalid_result``, and ``detail`` says which rule it broke.
    """
    frame = {"type": "error", "id": message_id, "code": exc.code, "message": exc.message}
    if isinstance(exc, InvalidResult) and exc.code not in ("malformed", "too_large"):
        frame.update(code="invalid_result", detail=exc.code)
    return frame


def install_event(launch):
    """Proxy page -> host page, and server push on ws/proxy/events/."""
    if launch.status == Launch.Status.FAILED:
        return {"type": FAILED, "launch": str(launch.id), "result": launch.result, "error": reason_of(launch)}
    return {"type": COMPLETED, "launch": str(launch.id), "result": launch.result}


def user_group(user_id):
    """The channel-layer group of one user's event sockets."""
    return f"proxy.user.{user_id}"
