"""The example host's live test server (daphne, forked from the test process) sees what each test writes.

Its SQLite runs in WAL mode. Forked while the test process held an open connection, the server read one
snapshot for good, from before the previous test's teardown: a user the next test created could not sign in
(``proxy.testing.live`` now closes the connections before it forks the server). No browser: the login form over HTTP.
"""
import requests
from django.contrib.auth import get_user_model

from proxy.testing.live import LiveCyclrTestCase


class LiveServerSeesEachTestsRows(LiveCyclrTestCase):
    def assert_signs_in(self):
        get_user_model().objects.create_user("erin", password="erin-password")
        http = requests.Session()
        http.get(self.live_server_url + "/login/", timeout=10)
        answer = http.post(self.live_server_url + "/login/", allow_redirects=False, timeout=10,
                           data={"username": "erin", "password": "erin-password",
                                 "csrfmiddlewaretoken": http.cookies["csrftoken"]})
        self.assertEqual(answer.status_code, 302, "the live server does not see the user this test created")

    def test_a_user_of_the_first_test_signs_in(self):
        self.assert_signs_in()

    def test_a_user_of_the_second_test_signs_in_too(self):
        self.assert_signs_in()

    def test_and_of_the_third(self):
        self.assert_signs_in()
