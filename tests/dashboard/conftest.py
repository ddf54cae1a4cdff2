import pytest

from tests.dashboard.factories import make_demo_store, make_users


@pytest.fixture(scope="session")
def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dash")
    url, bundle = make_demo_store(tmp)
    users = make_users(tmp / "users.yaml")
    return {"url": url, "bundle": bundle, "users": users, "tmp": tmp}


@pytest.fixture()
def app_env(demo, monkeypatch):
    monkeypatch.setenv("RACKSCAN_DB", demo["url"])
    monkeypatch.setenv("RACKSCAN_USERS", str(demo["users"]))
    return demo
