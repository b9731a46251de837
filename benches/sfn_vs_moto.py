"""Step Functions bench: the same boto3 workload against moto's server and `wildrydes serve`,
side by side, durable (wildrydes writes every history event to SQLite before it acts).

Workloads: a 100-state Pass chain (50 executions) and a Map over 100 items whose iterator is
a Parallel of 2 branches (10 executions). The executions are started through StartExecution
from --clients threads at once and the run ends when ListExecutions finds none RUNNING. Reports
executions/s, state transitions/s and the wildrydes/moto ratio.

Usage: benches/sfn_vs_moto.sh (makes the venv and builds the binary), or
  python benches/sfn_vs_moto.py --wildrydes PATH/TO/wildrydes [--chain-runs 50] [--fan-runs 10]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

ROLE = "arn:aws:iam::000000000000:role/BenchRole"


def pass_chain(n):
    states = {}
    for i in range(n):
        s = {"Type": "Pass", "Result": {"step": i}, "ResultPath": "$.last"}
        if i + 1 < n:
            s["Next"] = f"S{i + 1}"
        else:
            s["End"] = True
        states[f"S{i}"] = s
    return {"StartAt": "S0", "States": states}


def map_parallel(items):
    branch = lambda name: {"StartAt": name, "States": {name: {"Type": "Pass", "End": True}}}
    return {
        "StartAt": "Items",
        "States": {
            "Items": {"Type": "Pass", "Result": list(range(items)), "ResultPath": "$.items", "Next": "Fan"},
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "ItemProcessor": {
                    "StartAt": "Both",
                    "States": {"Both": {"Type": "Parallel", "Branches": [branch("A"), branch("B")], "End": True}},
                },
                "End": True,
            },
        },
    }


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url, deadline=60):
    end = time.time() + deadline
    while time.time() < end:
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except urllib.error.HTTPError:
            return
        except Exception:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def client(endpoint, key, secret):
    return boto3.client(
        "stepfunctions",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        # StartSyncExecution's sync- host prefix is not used here; keep requests on the endpoint.
        config=Config(inject_host_prefix=False, retries={"max_attempts": 0}),
    )


def all_pages(sfn, operation, field, **kw):
    """Every item of a paginated call, through boto3's own paginator."""
    return [item for page in sfn.get_paginator(operation).paginate(**kw) for item in page[field]]


def listed(sfn, arn, status=None):
    """Every execution of a state machine, optionally by status."""
    kw = {"statusFilter": status} if status else {}
    return all_pages(sfn, "list_executions", "executions", stateMachineArn=arn, **kw)


def run(sfn, name, definition, runs, clients):
    arn = sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]
    t0 = time.perf_counter()
    # The starts go out from CLIENTS threads at once, as many callers would send them: one
    # Python thread waiting on each reply in turn measures boto3's per-call cost, not the
    # service (a 100-state chain takes the local engine ~2.5 ms, a boto3 call ~3 ms).
    with ThreadPoolExecutor(max_workers=clients) as pool:
        execs = list(pool.map(
            lambda i: sfn.start_execution(stateMachineArn=arn, name=f"run-{i}", input="{}")["executionArn"],
            range(runs)))
    # One ListExecutions(RUNNING) per poll instead of a DescribeExecution per execution.
    while listed(sfn, arn, "RUNNING"):
        time.sleep(0.005)
    elapsed = time.perf_counter() - t0
    done = listed(sfn, arn)
    bad = [e["status"] for e in done if e["status"] != "SUCCEEDED"]
    if len(done) != runs or bad:
        raise RuntimeError(f"{name}: {len(done)} listed of {runs}; not succeeded: {bad[:3]}")
    # The service's own clock: first start to last stop (ms resolution on both).
    span = (max(e["stopDate"] for e in done) - min(e["startDate"] for e in done)).total_seconds()
    # Count state transitions from one execution's history (every ...StateEntered).
    events = all_pages(sfn, "get_execution_history", "events", executionArn=execs[0])
    transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    return {"runs": runs, "seconds": elapsed, "exec_per_s": runs / elapsed,
            "transitions_per_s": runs * transitions / elapsed, "transitions": transitions, "span": span}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wildrydes", required=True)
    ap.add_argument("--chain-runs", type=int, default=50)
    ap.add_argument("--fan-runs", type=int, default=10)
    ap.add_argument("--clients", type=int, default=4, help="threads sending StartExecution at once")
    ap.add_argument("--only", choices=["moto", "wildrydes"],
                    help="run one side alone (to profile it); no ratio is printed")
    args = ap.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    procs = []
    try:
        moto_port = free_port()
        moto_bin = os.path.join(os.path.dirname(sys.executable), "moto_server")
        procs.append(subprocess.Popen([moto_bin, "-p", str(moto_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        moto = f"http://127.0.0.1:{moto_port}"
        wait_http(moto + "/moto-api/")
        req = urllib.request.Request(
            moto + "/moto-api/config",
            data=json.dumps({"stepfunctions": {"execute_state_machine": True}}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(req).read()

        data = tempfile.mkdtemp(prefix="sfn-bench-")
        wr = subprocess.Popen(
            [args.wildrydes, "serve", "--port", "0", "--data-dir", data],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        procs.append(wr)
        endpoint = None
        for line in wr.stdout:
            if line.startswith("wildrydes local cloud listening on "):
                endpoint = line.split(" on ", 1)[1].strip()
                break
        if not endpoint:
            raise RuntimeError("wildrydes serve did not print its endpoint")

        targets = {
            "moto": client(moto, "testing", "testing"),
            "wildrydes": client(endpoint, "wildrydes", "wildrydes"),
        }
        if args.only:
            targets = {args.only: targets[args.only]}
        workloads = [
            ("PassChain100", pass_chain(100), args.chain_runs),
            ("Map100xParallel2", map_parallel(100), args.fan_runs),
        ]
        results = {}
        for wname, definition, runs in workloads:
            for tname, sfn in targets.items():
                results[(wname, tname)] = run(sfn, f"{wname}-{tname}", definition, runs, args.clients)
        print(f"{args.clients} client threads; seconds = first start to none RUNNING (client's clock); "
              "span = first startDate to last stopDate (service's clock)")
        print(f"{'workload':<18} {'target':<10} {'runs':>5} {'seconds':>8} {'span':>7} {'exec/s':>9} {'transitions/s':>14}")
        for (wname, tname), r in results.items():
            print(f"{wname:<18} {tname:<10} {r['runs']:>5} {r['seconds']:>8.2f} {r['span']:>7.2f} {r['exec_per_s']:>9.1f} {r['transitions_per_s']:>14.0f}")
        for wname, _, _ in workloads if not args.only else []:
            m, w = results[(wname, "moto")], results[(wname, "wildrydes")]
            print(f"{wname}: wildrydes/moto = {w['exec_per_s'] / m['exec_per_s']:.1f}x executions/s "
                  f"({w['transitions']} vs {m['transitions']} states entered per execution)")
    finally:
        for p in procs:
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
