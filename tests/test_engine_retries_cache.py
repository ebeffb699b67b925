"""Retries and caching in the engine."""

from __future__ import annotations

import datetime
import logging
import time
from pathlib import Path

import pytest
from conveyor import flow, get_client, task
from conveyor.exceptions import ConfigurationError
from conveyor.results import ResultReference
from conveyor.tasks import task_input_hash


def test_task_retries_until_it_succeeds_with_delay():
    attempts = []

    @task(retries=2, retry_delay_seconds=0.05)
    def flaky():
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "ok"

    state = flaky(return_state=True)
    assert state.result() == "ok" and len(attempts) == 3
    assert attempts[1] - attempts[0] >= 0.04
    names = [s.name for s in get_client().read_states(state.run_id)]
    assert names == ["Running", "AwaitingRetry", "Retrying", "AwaitingRetry", "Retrying", "Completed"]
    assert get_client().read_task_run(state.run_id).run_count == 3


def test_retries_exhausted_fail_with_the_last_exception():
    @task(retries=1, retry_delay_seconds=[0])
    def always():
        raise ValueError("still broken")

    @flow
    def pipeline():
        return always()

    with pytest.raises(ValueError, match="still broken"):
        pipeline()


def test_flow_retries():
    attempts = []

    @flow(retries=1)
    def flaky_flow():
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("first time")
        return len(attempts)

    state = flaky_flow(return_state=True)
    assert state.result() == 2
    assert isinstance(state.data, ResultReference)  # rule 4: retries need the value


def test_retries_with_persistence_switched_off_raise_at_the_retry_attempt():
    attempts = []

    @task(persist_result=False, retries=3)
    def fragile():
        attempts.append(1)
        raise OSError("disk hiccup")

    @flow
    def pipeline():
        return fragile()

    with pytest.raises(ConfigurationError) as info:
        pipeline()
    message = str(info.value)
    assert "fragile" in message and "persist_result=False on task 'fragile'" in message
    assert "retries=0" in message
    assert attempts == [1]  # the first attempt ran; the retry was refused
    assert isinstance(info.value.__cause__, OSError)

    # A task that succeeds first time never needs the retry: no error.
    assert task(persist_result=False, retries=3)(lambda: 5)() == 5


def test_enclosing_flow_switching_persistence_off_also_blocks_retries():
    @task(retries=1)
    def fails():
        raise ValueError("x")

    @flow(persist_result=False)
    def pipeline():
        return fails()

    with pytest.raises(ConfigurationError, match="persist_result=False on enclosing flow 'pipeline'"):
        pipeline()


def test_cache_hit_returns_cached_state_without_running():
    calls = []

    @task(cache_key_fn=task_input_hash)
    def expensive(x):
        calls.append(x)
        return {"x": x}

    @flow
    def pipeline(x):
        # in a list: a State returned by itself would become the flow's own final state
        return [expensive(x, return_state=True)]

    (first,) = pipeline(1)
    (second,) = pipeline(1)
    (third,) = pipeline(2)
    assert calls == [1, 2]
    assert first.name == "Completed" and second.name == "Cached" and second.is_completed()
    assert second.result() == {"x": 1} and third.result() == {"x": 2}
    run = get_client().read_task_run(second.run_id)
    assert run.cache_key == get_client().read_task_run(first.run_id).cache_key
    assert run.state.name == "Cached"


def test_cache_expiration_and_refresh_cache():
    calls = []

    @task(cache_key_fn=lambda ctx, params: f"k-{params['x']}",
          cache_expiration=datetime.timedelta(seconds=0.2))
    def work(x):
        calls.append(x)
        return x

    work(1)
    work(1)
    assert calls == [1]
    time.sleep(0.25)
    work(1)
    assert calls == [1, 1]
    work.with_options(refresh_cache=True)(1)
    assert calls == [1, 1, 1]
    state = work(1, return_state=True)
    assert state.name == "Cached" and calls == [1, 1, 1]


def test_cache_key_fn_receives_context_and_parameters():
    seen = []

    def key_fn(context, parameters):
        seen.append((context.task.name, context.task_run.id, dict(parameters)))
        # None: no caching

    @task(cache_key_fn=key_fn)
    def work(a, b=2):
        return a + b

    state = work(1, return_state=True)
    assert seen == [("work", state.run_id, {"a": 1, "b": 2})]
    assert work(1) == 3 and len(seen) == 2


def test_caching_with_persistence_off_raises_at_the_lookup():
    calls = []

    @task(persist_result=False, cache_key_fn=task_input_hash)
    def work():
        calls.append(1)

    with pytest.raises(ConfigurationError, match="persist_result=False on task 'work'.*cache_key_fn"):
        work()
    assert calls == []


def test_deleted_or_corrupt_cached_value_is_a_miss(tmp_path: Path, caplog):
    calls = []

    @task(cache_key_fn=lambda ctx, params: "fixed")
    def work():
        calls.append(1)
        return "value" * 10

    first = work(return_state=True)
    path = tmp_path / "conveyor-results" / first.data.key
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="conveyor"):
        again = work(return_state=True)
    assert again.name == "Completed" and again.result() == "value" * 10 and len(calls) == 2
    assert any("unusable" in r.getMessage() for r in caplog.records)

    path = tmp_path / "conveyor-results" / again.data.key
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    third = work(return_state=True)
    assert third.name == "Completed" and len(calls) == 3
    assert work(return_state=True).name == "Cached"


def test_cache_hit_in_a_new_process(tmp_path):
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent(
        """
        import sys
        from conveyor import flow, task
        from conveyor.tasks import task_input_hash

        @task(cache_key_fn=task_input_hash)
        def square(x):
            print("computed", file=sys.stderr)
            return x * x

        @flow
        def pipeline():
            return [square(7, return_state=True)]

        (state,) = pipeline()
        print(state.name, state.result())
        """
    )
    path = tmp_path / "cached_flow.py"
    path.write_text(script)
    outs = [subprocess.run([sys.executable, str(path)], capture_output=True, text=True, check=True)
            for _ in range(2)]
    assert outs[0].stdout.split() == ["Completed", "49"]
    assert outs[1].stdout.split() == ["Cached", "49"]
    assert "computed" not in outs[1].stderr


def test_literal_results_are_cached_too(tmp_path):
    calls = []

    @task(cache_key_fn=lambda c, p: "lit")
    def nothing():
        calls.append(1)

    nothing()
    state = nothing(return_state=True)
    assert state.name == "Cached" and state.result() is None and calls == [1]
    assert not (tmp_path / "conveyor-results").exists()


def test_flow_with_persistence_off_refuses_its_retry():
    @flow(persist_result=False, retries=1)
    def fragile_flow():
        raise RuntimeError("flow broke")

    with pytest.raises(ConfigurationError, match="flow 'fragile_flow'.*persist_result=False on flow"):
        fragile_flow()


def test_async_task_retries():
    import asyncio

    attempts = []

    @task(retries=2)
    async def flaky():
        attempts.append(1)
        if len(attempts) < 2:
            raise ConnectionError("again")
        return "async ok"

    @flow
    async def pipeline():
        return await flaky()

    assert asyncio.run(pipeline()) == "async ok" and len(attempts) == 2


def test_submitted_tasks_use_the_cache_from_worker_threads():
    calls = []

    @task(cache_key_fn=task_input_hash)
    def square(x):
        calls.append(x)
        return x * x

    @flow
    def pipeline():
        return [f.result() for f in square.map([1, 2, 3])]

    assert pipeline() == [1, 4, 9]
    assert pipeline() == [1, 4, 9]
    assert sorted(calls) == [1, 2, 3]


def test_cache_hits_within_a_flow_run_reuse_a_verified_value_until_its_file_changes(tmp_path: Path, caplog):
    from conveyor import flow

    calls = []

    @task(cache_key_fn=lambda ctx, params: "in-flow")
    def work():
        calls.append(1)
        return ["value"] * 10

    @flow
    def pipeline():
        first = work(return_state=True)           # computed and persisted
        path = tmp_path / "conveyor-results" / first.data.key
        hits = [work(return_state=True) for _ in range(3)]  # read and verified once, then reused
        assert [h.name for h in hits] == ["Cached"] * 3 and len(calls) == 1
        path.unlink()                             # removed behind conveyor's back: a miss
        again = work(return_state=True)
        assert again.name == "Completed" and len(calls) == 2
        path = tmp_path / "conveyor-results" / again.data.key
        assert work(return_state=True).name == "Cached"
        data = bytearray(path.read_bytes())       # damaged in place: the file changed, so
        data[len(data) // 2] ^= 0xFF              # it is read again, fails its checksum,
        path.write_bytes(bytes(data))             # and the task runs again
        third = work(return_state=True)
        assert third.name == "Completed" and len(calls) == 3
        return third.result()

    with caplog.at_level(logging.WARNING, logger="conveyor"):
        assert pipeline() == ["value"] * 10
    assert sum("unusable" in r.getMessage() for r in caplog.records) == 2


def test_cache_result_in_memory_false_keeps_no_verified_value(tmp_path: Path):
    from conveyor import flow

    calls = []

    @task(cache_key_fn=lambda ctx, params: "no-memo", cache_result_in_memory=False)
    def work():
        calls.append(1)
        return "v"

    @flow
    def pipeline():
        work()
        state = work(return_state=True)
        assert state.name == "Cached" and not state.data.is_cached
        return state.result()

    assert pipeline() == "v" and len(calls) == 1


def test_a_cache_key_fn_that_raises_or_has_the_wrong_signature_is_named():
    def broken(context, parameters):
        raise KeyError("no such column")

    @task(cache_key_fn=broken)
    def a(x):
        return x

    @task(cache_key_fn=lambda parameters: "k")  # one argument: the wrong signature
    def b(x):
        return x

    state = a(1, return_state=True)
    assert state.is_failed()
    assert state.message.startswith("ConfigurationError: cache_key_fn ")
    assert "broken of task 'a' raised KeyError: 'no such column'" in state.message
    state = b(1, return_state=True)
    assert "of task 'b' raised TypeError" in state.message
    assert "cache_key_fn(context, parameters)" in state.message
