"""conveyor's example pipeline: what happens to each result, and why.

Run it with `make demo`. It runs the same flow twice and then prints, for every task,
what became of its return value: kept in memory only, written to storage with only a
reference in the metadata database, or small enough (True/False/None) to live in the
database itself, together with the rule of the persistence policy that decided.

Everything it writes stays in .conveyor-demo/ beside this repository's README.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / ".conveyor-demo"
if "CONVEYOR_HOME" not in os.environ:  # the demo's own folder: start afresh every time
    import shutil

    shutil.rmtree(DEMO, ignore_errors=True)
os.environ.setdefault("CONVEYOR_HOME", str(DEMO / "home"))
os.environ.setdefault("CONVEYOR_LOCAL_STORAGE_PATH", str(DEMO / "results"))
os.environ.setdefault("CONVEYOR_LOGGING_LEVEL", "WARNING")  # the summary below says it all

from conveyor import flow, get_client, task
from conveyor.metadata import get_store
from conveyor.results import ResultLiteral, ResultReference, UnpersistedResult
from conveyor.tasks import task_input_hash, unmapped

REGIONS = ["north", "south", "east", "west"]


@task(retries=2, retry_delay_seconds=0.1)
def extract(n_orders: int, outage: str) -> list[dict]:
    """Read orders from a source that fails on the first attempt of every run.

    ``outage`` names a file that marks the failure as staged: a file, not memory, so the
    second attempt succeeds in whichever process (a thread here, a Dask worker) runs it.
    """
    marker = Path(outage)
    if not marker.exists():
        marker.touch()
        raise ConnectionError("order source timed out (the demo's staged failure)")
    rng = random.Random(42)
    return [
        {"id": i, "region": rng.choice(REGIONS), "amount": round(rng.uniform(-5, 500), 2)}
        for i in range(n_orders)
    ]


@task(cache_key_fn=task_input_hash, cache_expiration=timedelta(days=1))
def clean(orders: list[dict]) -> list[dict]:
    """Drop refunds; cached on its input, so the second run skips it."""
    return [o for o in orders if o["amount"] > 0]


@task
def region_totals(orders: list[dict], region: str) -> dict:
    """Sum one region; a plain task, run concurrently for every region."""
    mine = [o["amount"] for o in orders if o["region"] == region]
    return {"region": region, "orders": len(mine), "revenue": round(sum(mine), 2)}


@task(result_serializer="json")
def build_report(totals: list[dict]) -> dict:
    """The report; asks for JSON, so it is persisted as readable JSON."""
    revenue = sum(t["revenue"] for t in totals)
    return {"revenue": round(revenue, 2), "by_region": totals}


@task
def has_anomalies(report: dict) -> bool:
    """A yes/no check: the answer is a literal, kept in the database."""
    shares = [t["revenue"] / report["revenue"] for t in report["by_region"]]
    return max(shares) > 0.5


@flow(name="sales-pipeline", retries=1)
def sales_pipeline(n_orders: int = 20_000) -> dict:
    outage = Path(tempfile.gettempdir()) / f"conveyor-demo-outage-{uuid.uuid4().hex}"
    orders = extract(n_orders, str(outage))
    outage.unlink(missing_ok=True)
    cleaned = clean(orders)
    futures = region_totals.map(unmapped(cleaned), REGIONS)  # four concurrent task runs
    report = build_report([f.result() for f in futures])
    return {"report": report, "anomalies": has_anomalies(report)}




def where(data: object) -> str:
    if isinstance(data, ResultLiteral):
        return f"literal {data.get()!r} in the database"
    if isinstance(data, UnpersistedResult):
        return "in memory only"
    if isinstance(data, ResultReference):
        storage = data.resolve_storage()
        return f"{storage.describe(data.key)} [{data.serializer['type']}, {data.size:,} B]"
    return "-"


def show_run(label: str, state) -> None:
    client = get_client()
    run = client.read_flow_run(state.run_id)
    print(f"\n{label}: flow run {run.id} -> {run.state.name}")
    rows = [("sales-pipeline (flow)", run)] + [(t.task_name, t) for t in client.read_task_runs(run.id)]
    for name, r in rows:
        attempts = f" after {r.run_count} attempts" if r.run_count > 1 else ""
        print(f"  {name:<22} {r.state.name + attempts:<26} {where(r.state.data)}")
        if r.state.message:  # which rule of the policy decided, recorded with the state
            print(f"  {'':<22} {'':<26} why: {r.state.message}")


def main() -> int:
    print("conveyor demo: a sales pipeline, run twice.")
    print(f"metadata database: {get_store().location}")
    storage = os.environ.get("CONVEYOR_RESULTS_DEFAULT_STORAGE") or os.environ["CONVEYOR_LOCAL_STORAGE_PATH"]
    print(f"result storage:    {storage}")
    first = sales_pipeline(return_state=True)
    second = sales_pipeline(return_state=True)
    value = second.result()
    show_run("Run 1", first)
    show_run("Run 2", second)

    print(
        "\nThe persistence policy (first rule that applies): 1 the run's own persist_result;"
        "\n2 its own result_storage / result_serializer / result_storage_key; 3 the enclosing"
        "\nflow's persist_result; 4 retries or a cache_key_fn need the value later;"
        "\n5 CONVEYOR_RESULTS_PERSIST_BY_DEFAULT. True/False/None are always literals, kept"
        "\nin the database itself with no file. The 'why' lines above are what conveyor"
        "\nrecorded with each state."
    )
    print(
        "\nIn run 2, 'clean' is Cached: its input hash matched run 1, so its function did not"
        "\nrun and its value was read back from storage through the reference. 'extract'"
        "\nfailed once in each run and succeeded on its retry."
    )
    print(f"\nThe flow returned: revenue {value['report']['revenue']:,}, anomalies: {value['anomalies']}")

    ref = get_client().read_flow_run(second.run_id).state.data
    print("\nWhat the database holds for the flow's result is only this reference:")
    print(f"  {ref.json()}")
    conveyor = Path(sys.executable).parent / "conveyor"
    cmd = f"CONVEYOR_HOME={os.environ['CONVEYOR_HOME']} {conveyor}"
    if os.environ.get("CONVEYOR_DATABASE_URL"):  # on a cluster: the same settings (password masked)
        cmd = f"CONVEYOR_DATABASE_URL='{get_store().location}' {conveyor}"
    print("\nLook at them yourself:")
    print(f"  {cmd} runs ls")
    print(f"  {cmd} runs show {second.run_id}")
    print(f"  {cmd} results get {second.run_id}")
    print(f"  {cmd} results verify")
    return 0


if __name__ == "__main__":
    sys.exit(main())
