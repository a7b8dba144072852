import pytest

from cluster import Cluster, swiftps_bin


def pytest_configure(config):
    config.addinivalue_line("markers", "integration: starts the real swiftps binary (SWIFTPS_BIN)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)


@pytest.fixture
def cluster(request, tmp_path):
    """A `Cluster` whose processes are stopped at the end of the test; their output is printed when it failed."""
    binary = swiftps_bin()
    if not binary.exists():
        pytest.skip(f"no swiftps binary at {binary} (set SWIFTPS_BIN)")
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.stop()
        report = getattr(request.node, "report_call", None)
        if report is None or report.failed:
            print(c.describe())
