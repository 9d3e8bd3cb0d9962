"""The bench's burst client (``grader.queue.bench_client``) against a real server on
loopback: every file it posts is stored as sent, and a dropped keep-alive connection is
opened again."""

from __future__ import annotations

import concurrent.futures

from grader.queue.bench import _wait_finished, variant_files
from grader.queue.bench_client import BurstClient
from grader.store.models import Submission
from service_fixtures import make_token

SLUG = "none-grad-after-rebinding"


def test_burst_client_posts_every_file_as_sent_and_each_is_graded(live_service, bank):  # noqa: ANN001
    files = variant_files(bank, SLUG, 6)
    client = BurstClient(live_service.url, make_token(live_service.db, live_service.accounts["student"].email), SLUG)
    bodies = [client.encode(path) for path in files]
    assert len({content_type for _, content_type in bodies}) == len(files)  # a boundary of its own each
    with concurrent.futures.ThreadPoolExecutor(max_workers=3) as pool:
        posted = list(pool.map(client.post, bodies))
    ids = [submission_id for submission_id, _, _ in posted]
    assert len(set(ids)) == len(files) and all(seconds > 0 for _, _, seconds in posted)
    with live_service.db.reading() as session:
        assert [session.get(Submission, one).content for one in ids] == [path.read_bytes() for path in files]
    assert sorted(_wait_finished(live_service.db, ids)) == sorted(ids)


def test_burst_client_opens_a_new_connection_when_the_server_closed_its_own(live_service, bank):  # noqa: ANN001
    path = variant_files(bank, SLUG, 1)[0]
    client = BurstClient(live_service.url, make_token(live_service.db, live_service.accounts["student"].email), SLUG)
    first = client.post_file(path)[0]
    client._connections.connection.sock.close()  # as a server does with an idle keep-alive connection
    assert client.post_file(path)[0] == first + 1
