"""Acknowledged writes survive kill -9 and SIGTERM: every CreateJobTemplate that got a 200 is there
after a restart on the same data dir."""

import concurrent.futures
import threading
import unittest

from botocore.exceptions import BotoCoreError, ClientError

from harness import E2ECase


def all_ids(client):
    ids = []
    for page in client.get_paginator("list_job_templates").paginate(
            PaginationConfig={"PageSize": 250}):
        ids += [t["jobTemplateId"] for t in page["jobTemplates"]]
    return ids


class DurabilityTest(E2ECase):
    def test_kill_9_right_after_the_200(self):
        d = self.daemon()
        c = d.client()
        c.create_job_template(jobTemplateId="survivor", description="kept", document='{"a":1}',
                              timeoutConfig={"inProgressTimeoutInMinutes": 5},
                              tags=[{"Key": "k", "Value": "v"}])
        d.kill()  # SIGKILL: no shutdown path runs
        d.start()
        c = d.client()
        got = c.describe_job_template(jobTemplateId="survivor")
        self.assertEqual(got["description"], "kept")
        self.assertEqual(got["document"], '{"a":1}')
        self.assertEqual(got["timeoutConfig"], {"inProgressTimeoutInMinutes": 5})
        self.assertEqual(c.list_tags_for_resource(resourceArn=d.arn("survivor"))["tags"],
                         [{"Key": "k", "Value": "v"}])

    def test_two_hundred_concurrent_creates_then_kill_9(self):
        d = self.daemon()
        c = d.client(max_pool_connections=32)
        ids = [f"burst-{i:03d}" for i in range(200)]

        def create(template_id):
            c.create_job_template(jobTemplateId=template_id, description="burst", document="{}")
            return template_id

        with concurrent.futures.ThreadPoolExecutor(max_workers=32) as pool:
            done = list(pool.map(create, ids))
        self.assertEqual(sorted(done), ids)
        d.kill()
        d.start()
        self.assertEqual(sorted(all_ids(d.client())), ids)

    def test_sigterm_with_requests_in_flight(self):
        d = self.daemon()
        c = d.client(max_pool_connections=16, read_timeout=10)
        acked, acked_lock = [], threading.Lock()
        enough = threading.Event()
        stop = threading.Event()

        def writer(w):
            n = 0
            while not stop.is_set():
                template_id = f"inflight-{w}-{n}"
                n += 1
                try:
                    c.create_job_template(jobTemplateId=template_id, description="x",
                                          document="{}")
                except (ClientError, BotoCoreError):
                    return  # the listener is closing or closed
                with acked_lock:
                    acked.append(template_id)
                    if len(acked) >= 100:
                        enough.set()

        with concurrent.futures.ThreadPoolExecutor(max_workers=12) as pool:
            futures = [pool.submit(writer, w) for w in range(12)]
            self.assertTrue(enough.wait(timeout=60), "writers made no progress")
            rc = d.stop()  # SIGTERM while the writers keep going
            stop.set()
            for f in futures:
                f.result(timeout=30)
        self.assertEqual(rc, 0, d.log())
        self.assertIn("stopped", d.log())

        d.start()
        present = set(all_ids(d.client()))
        missing = sorted(set(acked) - present)
        self.assertEqual(missing, [], f"{len(missing)} of {len(acked)} acknowledged creates lost")


if __name__ == "__main__":
    unittest.main()
