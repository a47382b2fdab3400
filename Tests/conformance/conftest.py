"""Session fixture: one real 3-node `keyraft dev` cluster for the whole conformance run."""

from __future__ import annotations

import os

import pytest

from keyraft_cluster import Cluster, keyraft_binary

#: The running cluster, for the failure hooks below.
_session: dict = {"cluster": None, "tails_shown": 0}
#: Node-log tails are attached to at most this many failing tests (then only a pointer).
TAILED_FAILURES_MAX = 5


def pytest_configure(config):
    config.addinivalue_line("markers", "last: run after every other test (kills and restarts nodes)")


def pytest_collection_modifyitems(session, config, items):
    """Tests marked `last` (failover) run at the end, in their original order."""
    items[:] = [i for i in items if i.get_closest_marker("last") is None] + \
               [i for i in items if i.get_closest_marker("last") is not None]


@pytest.fixture(scope="session")
def cluster(tmp_path_factory):
    binary = keyraft_binary()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        # Never a skip: a conformance run without a server must not look green (CI=true or not).
        pytest.fail(
            f"keyraft binary not found or not executable at {binary}. Build it (`swift build --product keyraft`) "
            f"or point KEYRAFT_BIN at it. CI={os.environ.get('CI', '')!r}", pytrace=False)
    work = tmp_path_factory.mktemp("keyraft")
    running = Cluster(binary, work)
    _session["cluster"] = running
    try:
        running.start()
    except Exception as error:  # noqa: BLE001 - any startup failure ends the session with the logs
        problems = running.stop()
        pytest.fail(f"could not start `keyraft dev` in {running.dir}: {error}\n"
                    f"teardown: {problems or 'clean'}\n{running.log_tails()}", pytrace=False)
    _session["work_hint"] = f"keyraft cluster files and logs: {running.work}"
    print(f"\nkeyraft dev cluster in {running.dir}: {running.endpoints}")
    yield running
    problems = running.stop()
    _session["cluster"] = None
    if problems:
        pytest.fail("cluster teardown: " + "; ".join(problems) + f"\n{running.log_tails()}", pytrace=False)


@pytest.fixture(autouse=True)
def _cluster_still_running(request):
    """Fails a test at once when the cluster it needs has died, instead of letting every
    remaining test wait out its timeouts."""
    if "cluster" not in request.fixturenames:
        return
    running = request.getfixturevalue("cluster")
    problem = running.problem()
    if problem:
        pytest.fail(f"the cluster is down: {problem} (logs in {running.work})", pytrace=False)


@pytest.fixture(params=["leader", "follower"])
def node(request, cluster) -> int:
    """The node a test talks to: the leader, or a follower (writes there are forwarded)."""
    if request.param == "leader":
        return cluster.leader()
    return cluster.followers()[0]


@pytest.fixture
def kms(cluster, node):
    """The admin's boto3 client for `node`."""
    return cluster.client(node)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # A test's own cluster (`own_cluster`) when it has one, else the session's.
    own = [v for v in getattr(item, "funcargs", {}).values() if isinstance(v, Cluster) and v is not _session["cluster"]]
    running = own[0] if own else _session["cluster"]
    if running is None or not report.failed:
        return
    if _session["tails_shown"] < TAILED_FAILURES_MAX:
        _session["tails_shown"] += 1
        report.sections.append(("keyraft logs", running.log_tails()))
    else:
        report.sections.append(("keyraft logs", f"see the logs in {running.work}"))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if exitstatus != 0 and _session.get("work_hint"):
        terminalreporter.write_line(_session["work_hint"])
