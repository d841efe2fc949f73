"""Two real daphne workers sharing PostgreSQL and channels-redis, as production runs the kit.

The proxy page's socket on one worker, the host page's events socket on the other; twenty-four
deliveries of one result racing across both by every door; a worker killed with SIGKILL mid-flow; a
push the layer drops. Every assertion is on what the workers wrote (rows, the signal log their
receivers append to) or answered (acks, pushes, proxy:status), never on this process's signals.

These run in `make test`'s second pass (DATABASE_URL=PostgreSQL, REDIS_URL set).
"""
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.db.models import Sum
from django.test import Client

from hostkit.models import Integration
from proxy.models import Arrival, Launch

from ..test_scaleout import require_scaleout  # noqa: F401 (autouse: skip, or fail in CI, without PostgreSQL and Redis)
from .workers import ROOT, WEBHOOK_SECRET, receive_json, scaleout_env, send_result, signals_sent, start_workers, wait_until

pytestmark = [pytest.mark.scaleout, pytest.mark.django_db(transaction=True)]




@pytest.fixture
def session(user):
    """The user's session cookie value, stored in the shared database where both workers read it."""
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def start_pair(cyclr, signal_log, tmp_path):
    """``start_pair(**per_worker_env)`` -> workers ``a`` and ``b``; stopped (logs printed) at teardown."""
    started = []

    def start(**per_worker_env):
        workers = start_workers(["a", "b"], scaleout_env(cyclr, signal_log), tmp_path, **per_worker_env)
        started.extend(workers)
        return workers

    yield start
    for worker in started:
        worker.stop()
        print(worker.log())  # shown by pytest only when the test failed


def deliver_by_socket(worker, session, launch, data, message_id="m1"):
    """The proxy page's delivery: open the launch's socket, send the result, return the answer."""
    page = worker.socket(f"/ws/proxy/launches/{launch.pk}/", session)
    try:
        send_result(page, data, message_id)
        return receive_json(page)
    finally:
        page.close()


def events_until(events, launch):
    """Pushes read from an events socket up to and including ``launch``'s."""
    received = []
    while not received or received[-1]["launch"] != str(launch.pk):
        received.append(receive_json(events))
    return received


def test_the_proxy_page_on_worker_a_delivers_and_the_host_page_on_worker_b_hears(start_pair, installed, session, signal_log):
    a, b = start_pair()
    launch, data = installed()
    events = b.socket("/ws/proxy/events/", session)

    ack = deliver_by_socket(a, session, launch, data)

    assert ack["type"] == "ack" and ack["launch"] == str(launch.pk), f"{ack}{a.log()}"
    event = receive_json(events)
    events.close()
    on_a = a.wait_for_status(session, launch.pk)
    on_b = b.wait_for_status(session, launch.pk)
    assert on_a == on_b and on_a["status"] == "completed"
    assert event == {"type": "proxy.install.completed", "launch": str(launch.pk), "result": on_b["result"]}
    assert on_b["result"]["cycles"][0]["cycle_id"] == data["cycles"][0]["cycleId"]
    assert [name for name, _ in signals_sent(signal_log, launch)] == ["install_completed"]


def test_deliveries_racing_across_both_workers_by_every_door_make_one_record_and_one_signal(
        start_pair, installed, session, signal_log, cyclr):
    a, b = start_pair()
    launch, data = installed()
    (install,) = cyclr.installs
    per_door_and_worker = 4
    barrier = threading.Barrier(3 * 2 * per_door_and_worker)
    answers, errors = [], []

    def by_socket(worker, n):
        page = worker.socket(f"/ws/proxy/launches/{launch.pk}/", session)  # connected before the race starts
        try:
            barrier.wait(timeout=60)
            send_result(page, data, f"socket-{worker.name}-{n}")
            return receive_json(page)
        finally:
            page.close()

    def by_http(worker, n):
        client = worker.http(session)
        barrier.wait(timeout=60)
        response = client.post(f"{worker.url}/proxy/launches/{launch.pk}/result/", timeout=60,
                               json={"type": "result", "id": f"http-{worker.name}-{n}", "result": data})
        assert response.status_code == 200, response.text
        return response.json()

    def by_webhook(worker, n):
        barrier.wait(timeout=60)
        status = cyclr.send_notification(install["id"], url=f"{worker.url}/proxy/webhook/{WEBHOOK_SECRET}/")
        assert status == 200, cyclr.notifications[-1]
        return {"type": "webhook"}

    def run(door, worker, n):
        try:
            answers.append((door.__name__, door(worker, n)))
        except BaseException as exc:  # reported by the assertion below, with the workers' logs
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(door, worker, n))
               for door in (by_socket, by_http, by_webhook) for worker in (a, b) for n in range(per_door_and_worker)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == [], f"{errors}{a.log()}{b.log()}"
    deliveries = len(threads)
    assert deliveries >= 20 and len(answers) == deliveries
    for door, answer in answers:
        if door != "by_webhook":
            assert answer["type"] == "ack" and answer["launch"] == str(launch.pk), answer
            assert answer["status"] in ("received", "completed"), answer
    webhook_answers = [n["response"] for n in cyclr.notifications]
    assert all('"accepted"' in response for response in webhook_answers), webhook_answers

    assert a.wait_for_status(session, launch.pk)["status"] == b.wait_for_status(session, launch.pk)["status"] == "completed"
    # Repeats collapse into one row per source and content (Arrival.count), so count the deliveries.
    arrivals = Arrival.objects.filter(launch=launch)
    assert arrivals.aggregate(total=Sum("count"))["total"] == deliveries
    assert arrivals.filter(duplicate=False).count() == 1 and arrivals.get(duplicate=False).count == 1
    assert {source: arrivals.filter(source=source).aggregate(total=Sum("count"))["total"]
            for source in ("socket", "http", "webhook")} == {"socket": 8, "http": 8, "webhook": 8}
    assert Launch.objects.get(pk=launch.pk).signal_sent_at is not None
    assert len(signals_sent(signal_log, launch)) == 1
    assert Integration.objects.filter(launch_id=launch.pk).count() == 1


def reconcile(worker):
    """What the sweeper cron runs (docs/production.md): settle results left unverified, send signals that
    never went out. ``--grace 0``: the test stands for a sweep after the grace period has passed."""
    return subprocess.run([sys.executable, "manage.py", "proxy_replay", "--grace", "0"], cwd=ROOT, env=worker.env,
                          capture_output=True, text=True, timeout=120)



def test_a_worker_killed_mid_verification_is_settled_exactly_once_by_the_sweeper(start_pair, installed, session, signal_log,
                                                                                  cyclr):
    a, b = start_pair()
    launch, data = installed()
    cyclr.cycle_gate.close()  # Cyclr "takes as long as the test wants" to answer the verification call
    try:
        ack = deliver_by_socket(a, session, launch, data)
        # Acknowledged while worker a's settlement thread is still waiting for Cyclr.
        assert (ack["type"], ack["status"]) == ("ack", "received"), f"{ack}{a.log()}"
        assert cyclr.cycle_gate.wait_for_held(1, timeout=30), f"worker a never asked Cyclr{a.log()}"
        a.kill()  # SIGKILL mid-verification: its thread, its Cyclr call and its connections die with it
    finally:
        cyclr.cycle_gate.open()
    stored = Launch.objects.get(pk=launch.pk)
    assert stored.status == Launch.Status.RECEIVED and stored.settle_attempts == 1
    assert b.status(session, launch.pk)["status"] == "received"  # the server owns it: nothing is lost

    # A restarted worker does not know of it; the sweeper does (after the grace period).
    swept = reconcile(b)
    assert swept.returncode == 0, swept.stderr
    assert f"{launch.pk}: settled as completed" in swept.stdout, swept.stdout
    assert b.wait_for_status(session, launch.pk)["status"] == "completed"
    assert [name for name, _ in signals_sent(signal_log, launch)] == ["install_completed"]
    assert "0 launch(es) replayed" in reconcile(b).stdout
    assert len(signals_sent(signal_log, launch)) == 1
    assert Integration.objects.filter(launch_id=launch.pk).count() == 1


def test_a_worker_killed_mid_flow_loses_and_doubles_nothing(start_pair, installed, session, signal_log):
    a, b = start_pair()
    launch, data = installed()
    events = b.socket("/ws/proxy/events/", session)
    page = a.socket(f"/ws/proxy/launches/{launch.pk}/", session)

    send_result(page, data, "m1")
    a.kill()  # at once: the result may be stored, half-settled, or not yet read
    page.close()

    # The page's outbox still holds the result (no ack reached it): it reconnects, through the
    # load balancer, to the worker left, and sends it again.
    ack = deliver_by_socket(b, session, launch, data, "m1")
    assert ack["type"] == "ack" and ack["launch"] == str(launch.pk), f"{ack}{b.log()}"
    assert ack["status"] in ("received", "completed")
    # If the killed worker had stored the result but not verified it, the reconcile cron settles it.
    replayed = reconcile(b)
    assert replayed.returncode == 0, replayed.stderr

    assert b.wait_for_status(session, launch.pk)["status"] == "completed"
    assert Arrival.objects.filter(launch=launch, duplicate=False).count() == 1
    assert 1 <= Arrival.objects.filter(launch=launch).count() <= 2
    assert len(signals_sent(signal_log, launch)) == 1
    # The host page hears of it once: a second install's push comes next, nothing in between.
    later, later_data = installed()
    deliver_by_socket(b, session, later, later_data)
    pushed = events_until(events, later)
    events.close()
    assert [event["launch"] for event in pushed] == [str(launch.pk), str(later.pk)]


def test_a_push_the_layer_drops_is_found_by_proxy_status(start_pair, installed, session, signal_log):
    # Worker a's layer lets a channel hold one unread message; worker b stops reading while a delivers.
    a, b = start_pair(a={"CHANNELS_CAPACITY": "1"})
    launches = [installed() for _ in range(3)]
    events = b.socket("/ws/proxy/events/", session)
    b.pause()
    try:
        for launch, data in launches:
            ack = deliver_by_socket(a, session, launch, data)
            assert ack["type"] == "ack", f"{ack}{a.log()}"
        # Settled after the ack: the pushes are sent (then the signal marked sent) while b still sleeps.
        wait_until(lambda: not Launch.objects.filter(pk__in=[launch.pk for launch, _ in launches],
                                                     signal_sent_at__isnull=True).exists(), "a's pushes")
    finally:
        b.resume()
    # The first push fills b's channel (a read already waiting in Redis may take one more);
    # the third can never fit: channels-redis drops it.
    sentinel, sentinel_data = installed()
    deliver_by_socket(b, session, sentinel, sentinel_data)  # b's own layer has room: its push arrives
    pushed = {event["launch"] for event in events_until(events, sentinel)}
    events.close()
    lost = [launch for launch, _ in launches if str(launch.pk) not in pushed]
    assert launches[-1][0] in lost, "the layer delivered every push: nothing overflowed"
    for launch in lost:
        status = b.wait_for_status(session, launch.pk)
        assert status["status"] == "completed" and status["result"] is not None
        assert len(signals_sent(signal_log, launch)) == 1


def test_a_burst_of_handshakes_in_one_process_gets_a_redis_connection_each():
    """Each handshake takes one of the layer's connections for a moment to join its group. 300 at once in one
    process (every page reconnecting after a deploy) all join: redis-py 8's pool stops at 100 by default and
    raised "Too many connections" for the rest, which failed their handshakes with a 500 (hostkit's settings)."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    group = "proxy.burst-test"

    async def scenario():
        channels = [await layer.new_channel() for _ in range(300)]
        joined = await asyncio.gather(*(layer.group_add(group, channel) for channel in channels), return_exceptions=True)
        left = await asyncio.gather(*(layer.group_discard(group, channel) for channel in channels), return_exceptions=True)
        return [repr(each) for each in (*joined, *left) if isinstance(each, BaseException)]

    assert async_to_sync(scenario)() == []


def test_an_idle_socket_outlives_redis_read_timeouts():
    """A consumer waits on the layer for as long as its socket is idle, well past redis-py 8's 5 s
    default read time-out (which cut channels-redis's blocking wait and crashed every idle socket)."""
    import asyncio

    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    # Equal values race (the server's empty answer against the client's time-out): demand a margin.
    assert all((host.get("socket_timeout") or float("inf")) > layer.brpop_timeout + 1 for host in layer.hosts)

    async def scenario():
        channel = await layer.new_channel()
        with pytest.raises(TimeoutError):  # ours, after 8 s of nothing: not redis-py's, after 5
            await asyncio.wait_for(layer.receive(channel), timeout=8)
        await layer.send(channel, {"type": "still.here"})
        return await asyncio.wait_for(layer.receive(channel), timeout=5)

    assert async_to_sync(scenario)() == {"type": "still.here"}


@pytest.mark.browser
def test_in_chromium_the_host_page_from_one_worker_and_the_proxy_page_from_the_other(
        cyclr, signal_log, tmp_path, user):
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By

    from proxy.snippet import render_launch_complete_html
    from proxy.testing.browser import Browser

    from .browser.base import NOTE_EVENTS_SOCKET, require_browser
    from .workers import Front

    require_browser()
    # The proxy page's requests and its socket go to worker b; everything else (the host page,
    # its events socket, the login) to worker a; one origin in front of both, as in production.
    workers = {}
    proxy_page = ("/proxy/launch/", "/proxy/launches/", "/ws/proxy/launches/")
    front = Front(lambda path: workers["b" if path.startswith(proxy_page) else "a"])
    env = scaleout_env(cyclr, signal_log, CYCLR_HOST_ORIGINS=front.origin)
    a, b = start_workers(["a", "b"], env, tmp_path)
    workers.update(a=a, b=b)
    front.start()
    cyclr.set_complete_html(render_launch_complete_html([front.origin], front.origin + "/proxy/complete/"))
    browser = Browser()
    driver = browser.driver

    def wait_js(expression):
        try:
            return browser.wait_for_js(expression, 30)
        except TimeoutException:
            pytest.fail(f"Timed out waiting for {expression}\n--- console ---\n{browser.console()}{a.log()}{b.log()}")

    def wait(condition, what):
        try:
            return browser.wait_for(condition, 30)
        except TimeoutException:
            pytest.fail(f"Timed out waiting for {what}\n--- console ---\n{browser.console()}{a.log()}{b.log()}")

    try:
        driver.get(front.origin + "/login/")
        driver.find_element(By.ID, "id_username").send_keys("alice")
        driver.find_element(By.ID, "id_password").send_keys("alice-password")
        driver.find_element(By.ID, "login-button").click()
        wait_js("window.integrationsReady === true && !!window.Hostkit")
        host_window = driver.current_window_handle
        driver.execute_script(NOTE_EVENTS_SOCKET)
        driver.find_element(By.ID, "connect").click()
        wait(lambda d: len(d.window_handles) == 2, "the Connect popup")
        # The verdict crosses to worker a only if the host page's events socket (opened a second after the
        # click) is there before the install: wait for it.
        wait_js("window.eventsOpen === true")
        driver.switch_to.window(next(h for h in driver.window_handles if h != host_window))
        wait_js("window.proxyTest && window.proxyTest.socketOpen === true")
        driver.switch_to.frame(driver.find_element(By.ID, "proxy-frame"))
        wait(lambda d: d.find_elements(By.ID, "marketplace-title"), "the Marketplace inside the iframe")
        driver.find_element(By.CSS_SELECTOR, '[data-package-id="1"] a.install').click()
        wait(lambda d: d.find_elements(By.ID, "connector-auth"), "the connector form")
        driver.find_element(By.ID, "api_key").send_keys("demo-api-key")
        driver.find_element(By.ID, "install-button").click()

        driver.switch_to.window(host_window)
        wait(lambda d: len(d.window_handles) == 1, "the popup to close itself")
        wait_js("document.querySelector('#connect-status').textContent.indexOf('Connected') === 0")
        wait(lambda d: d.find_elements(By.CSS_SELECTOR, "#integrations li.integration"), "the integration listed")
        # Verified after the ack, in worker b's threads: let it finish before the workers stop.
        wait(lambda d: Launch.objects.filter(user=user, signal_sent_at__isnull=False).exists(), "the launch signalled")
    finally:
        browser.quit()
        front.stop()
        for worker in (a, b):
            worker.stop()
            print(worker.log())

    launch = Launch.objects.get(user=user)
    assert launch.status == Launch.Status.COMPLETED, launch.failure_message
    assert list(Arrival.objects.filter(launch=launch).values_list("source", "duplicate")) == [("socket", False)]
    assert len(signals_sent(signal_log, launch)) == 1
    routed = dict(front.routed)  # path -> the worker that served it (the last time)
    assert routed["/integrations/"] == "a" and routed["/ws/proxy/events/"] == "a"
    assert routed[f"/ws/proxy/launches/{launch.pk}/"] == "b"
    assert any(path.startswith("/proxy/launch/") and name == "b" for path, name in front.routed)
