"""ordersite/redis.py: one client (one pool) per URL and process, safe across a fork, Sentinel in
one place; and every Lua script's keys in one Redis Cluster hash slot."""

import hashlib
import importlib
import json
import os
import subprocess
import sys

import pytest
import redis
from redis.crc import key_slot
from redis.sentinel import SentinelConnectionPool

from deadletters import store
from deadletters.envelope import Envelope
from ordersite import breakers, worker_heartbeat
from ordersite import redis as redis_factory
from ordersite.queues import Queue

from ..conftest import ROOT, TEST_REDIS_URL, throwaway_redis


def test_replies_are_parsed_by_hiredis(settings):
    """hiredis is in the lock for speed (README, Performance): redis-py uses it when installed."""
    settings.REDIS_URL = TEST_REDIS_URL
    connection = redis_factory.client().connection_pool.get_connection()
    try:
        assert type(connection._parser).__name__ == "_HiredisParser"
    finally:
        redis_factory.client().connection_pool.release(connection)


def test_one_client_and_pool_per_url_and_options(settings):
    settings.REDIS_URL = TEST_REDIS_URL
    shared = redis_factory.client()
    assert redis_factory.client(TEST_REDIS_URL) is shared
    assert store.redis_client() is shared
    assert breakers.Breaker(breakers.BreakerName.PAYMENT).redis is shared
    assert redis_factory.client(TEST_REDIS_URL, timeout=1.0) is not shared  # other socket options
    assert redis_factory.client(TEST_REDIS_URL, timeout=1.0) is worker_heartbeat.client(1.0)
    shared.ping()
    assert shared.connection_pool.connection_kwargs["decode_responses"] is True


@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded")  # the child only uses Redis
def test_a_pool_built_before_a_fork_reconnects_in_the_child(settings):
    """gunicorn and Celery's prefork pool fork after the app loaded: the child must not write on
    the parent's socket (the two would read each other's answers)."""
    settings.REDIS_URL = TEST_REDIS_URL
    client = redis_factory.client()
    client.set("factory:fork", "parent")
    parent_connection = client.connection_pool._available_connections[0]
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, never return into pytest
        try:
            client.set("factory:fork", "child")
            pool = client.connection_pool
            used = pool._available_connections[0]
            report = {
                "pid": pool.pid,
                "same_socket": used is parent_connection,
                "value": client.get("factory:fork"),
            }
            os.write(write, json.dumps(report).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = json.loads(pipe.read())
    assert child == {"pid": pid, "same_socket": False, "value": "child"}
    assert client.get("factory:fork") == "child"  # the parent's own connection still answers
    assert client.connection_pool.pid == os.getpid()


def test_with_sentinels_clients_follow_the_master_they_name(settings, tmp_path):
    """A real Sentinel watching a throwaway Redis: the client asks it for the master, so the
    host in the URL does not matter, only its database and password."""
    with throwaway_redis(tmp_path) as master_port:
        sentinel_conf = f"sentinel monitor ordersite-test 127.0.0.1 {master_port} 1\n"
        with throwaway_redis(tmp_path, "--sentinel", conf=sentinel_conf) as sentinel_port:
            settings.REDIS_SENTINELS = [f"127.0.0.1:{sentinel_port}"]
            settings.REDIS_SENTINEL_MASTER = "ordersite-test"
            client = redis_factory.client("redis://nowhere.invalid:1/3", timeout=2.0)
            assert isinstance(client.connection_pool, SentinelConnectionPool)
            assert client.connection_pool.service_name == "ordersite-test"
            client.set("factory:sentinel", "via-sentinel")
            direct = redis.Redis(port=master_port, db=3, decode_responses=True)
            assert direct.get("factory:sentinel") == "via-sentinel"
            # The sandboxes' Redis is not ours: never behind the Sentinels.
            outside = redis_factory.client(TEST_REDIS_URL, sentinel=False)
            assert not isinstance(outside.connection_pool, SentinelConnectionPool)


def test_sentinel_settings_reach_the_broker_and_the_cache():
    """REDIS_SENTINELS also turns a redis:// broker into kombu's sentinel:// transport, and the
    Django cache takes its clients from the factory (a fresh process reads the settings)."""
    code = (
        "from django.conf import settings as s; from django.core.cache import caches; "
        "import json; pool = caches['default']._cache.get_client().connection_pool; "
        "print(json.dumps([s.CELERY_BROKER_URL, s.CELERY_BROKER_TRANSPORT_OPTIONS['master_name'], "
        "type(pool).__name__, pool.service_name, pool.connection_kwargs['db']]))"
    )
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="ordersite.settings",
        REDIS_SENTINELS="10.0.0.1:26379, 10.0.0.2:26379",
        REDIS_SENTINEL_MASTER="shop",
        CELERY_BROKER_URL="redis://:secret@redis:6379/2",
        CACHE_URL="redis://redis:6379/5",
    )
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    broker, master, pool_class, service, db = json.loads(out.strip().splitlines()[-1])
    assert broker == "sentinel://:secret@10.0.0.1:26379/2;sentinel://:secret@10.0.0.2:26379/2"
    assert (master, pool_class, service, db) == ("shop", "SentinelConnectionPool", "shop", 5)


# --- Redis Cluster: a script's keys must share one hash slot ---------------------------------

_SCRIPT_MODULES = (
    "ordersite.breakers",
    "deadletters.store",
    "ordersite.throttling",
    "ordersite.worker_heartbeat",
)


def _scripts() -> dict[str, str]:
    """Every Lua script in the code: the module constants that call redis."""
    found = {}
    for name in _SCRIPT_MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if isinstance(value, str) and "redis.call(" in value:
                found[hashlib.sha1(value.encode()).hexdigest()] = f"{name}.{attr}"
    return found


def test_the_script_modules_are_all_the_modules_with_scripts():
    sources = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in ROOT.glob("*/**/*.py")
        if ".venv" not in path.parts
        and "tests" not in path.parts
        and "redis.call(" in path.read_text()
    }
    assert sources == set(_SCRIPT_MODULES)


@pytest.mark.django_db
def test_every_script_keeps_its_keys_in_one_hash_slot(settings, redis_client, api, monkeypatch):
    """Run every script the way the code runs it, record the keys of each EVAL/EVALSHA, and
    check each call's keys hash to one slot (what Redis Cluster demands)."""
    settings.REDIS_URL = TEST_REDIS_URL
    settings.ORDER_CREATE_THROTTLE_RATE = "1000/min"
    calls: list[tuple[str, list[str]]] = []
    execute = redis.Redis.execute_command

    def recording(self, *args, **options):
        if str(args[0]).upper() in ("EVAL", "EVALSHA"):
            body, numkeys = args[1], int(args[2])
            sha = body if args[0].upper() == "EVALSHA" else hashlib.sha1(body.encode()).hexdigest()
            calls.append((sha, [str(k) for k in args[3 : 3 + numkeys]]))
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", recording)

    breaker = breakers.Breaker(breakers.BreakerName.PAYMENT)
    breaker.before_call()
    breaker.record(ok=False)
    entry = Envelope(
        task="payments.authorize_payment", queue=Queue.PAYMENTS, args=["x"], order_id="o-1"
    )
    store.push(entry)
    store.push(entry)  # the live-entry check
    store.replay(entry.id)  # claim into the processing list, then out
    second = Envelope(
        task="payments.void_payment", queue=Queue.PAYMENTS, args=["y"], order_id="o-2"
    )
    store.push(second)
    redis_client.lrem(settings.DLQ_KEY, 1, second.to_json())
    redis_client.lpush(
        store.dlq_key("processing"), json.dumps({"claimed_at": 0, "raw": second.to_json()})
    )
    assert store.recover_stalled() == 1  # back into the list: the re-index
    assert store.remove(second.id)
    conn = worker_heartbeat.client()
    worker_heartbeat.beat(conn, node="slots@test", queues=[Queue.ORDERS, Queue.PAYMENTS], ttl=5)
    assert worker_heartbeat.live_nodes(conn, [Queue.ORDERS, Queue.PAYMENTS])[Queue.PAYMENTS] == [
        "slots@test"
    ]
    api.post("/api/v1/orders/", {}, format="json")  # the throttle's script runs before validation

    scripts = _scripts()
    assert {sha for sha, _ in calls} >= set(scripts), (
        f"scripts never run: {set(scripts) - {s for s, _ in calls}}"
    )
    for sha, keys in calls:
        assert len({key_slot(k.encode()) for k in keys}) <= 1, (
            f"{scripts.get(sha, sha)}: keys {keys} span slots"
        )
    assert any(len(keys) > 1 for _, keys in calls)
