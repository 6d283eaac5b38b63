"""Temporal peer benchmark: W1seq, W1 three-step, W2 flaky-step, W3 sequential steps (BENCHMARKS.md).

Worker and load client share this one Python process (Temporal Python SDK); run.sh starts the dev server.
Each step is a regular (non-local) activity: its result is recorded in the workflow history by the server.
stdout: JSON lines only, in durin-bench's field names. Adapted from the team's earlier peer measurement
(shared/bench/temporal).
"""
import asyncio, json, os, statistics, tempfile, time, uuid
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

ADDR = os.environ.get("TEMPORAL_ADDR", "127.0.0.1:7233")
DATA_DIR = os.environ.get("DATA_DIR", "/tmp")
REPS = int(os.environ.get("REPS", 3))
CONC = int(os.environ.get("CONC", 100))
W1_N = [int(x) for x in os.environ.get("W1_N", "1000,5000").split(",")]
W1_SEQ_N = int(os.environ.get("W1_SEQ_N", 100))
W2_N = int(os.environ.get("W2_N", 200))
W3_STEPS = int(os.environ.get("W3_STEPS", 1000))
WARM = int(os.environ.get("WARM", 200))
ONLY = os.environ.get("ONLY", "w1seq,w1,w2,w3").split(",")
TQ = "bench-tq"

ATTEMPTS: dict[str, int] = {}  # flaky step executions per run id (same process as the worker)


@activity.defn
async def step(n: int, prev: int) -> dict:
    return {"step": n, "prev": prev}


@activity.defn
async def flaky_step(run_id: str) -> dict:
    ATTEMPTS[run_id] = ATTEMPTS.get(run_id, 0) + 1
    attempt = activity.info().attempt - 1  # Temporal attempts are 1-based; make it 0-based
    if attempt < 2:
        raise RuntimeError(f"flaky attempt {attempt}")
    return {"step": 2, "attempt": attempt}


SHORT_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=10), backoff_coefficient=1.0,
                          maximum_interval=timedelta(milliseconds=10), maximum_attempts=10)


def _act(fn, *args, retry=None):
    kw = dict(start_to_close_timeout=timedelta(seconds=30))
    if retry is not None:
        kw["retry_policy"] = retry
    return workflow.execute_activity(fn, args=list(args), **kw)


@workflow.defn
class ThreeStep:
    @workflow.run
    async def run(self, run_id: str) -> dict:
        a = await _act(step, 1, 0)
        b = await _act(step, 2, a["step"])
        c = await _act(step, 3, b["step"])
        return {"id": run_id, "last": c["step"]}


@workflow.defn
class FlakyStep:
    @workflow.run
    async def run(self, run_id: str) -> dict:
        await _act(step, 1, 0)
        b = await _act(flaky_step, run_id, retry=SHORT_RETRY)
        c = await _act(step, 3, b["step"])
        return {"id": run_id, "flakyAttempt": b["attempt"], "last": c["step"]}


@workflow.defn
class FanIn:
    @workflow.run
    async def run(self, steps: int) -> dict:
        acc = 0
        for i in range(steps):
            await _act(step, i, acc)
            acc += 1
        return {"steps": steps, "acc": acc}


def emit(**kw):
    print(json.dumps({"engine": "temporal", "sdk": "python", **kw}), flush=True)


def loadavg():
    return " ".join(open("/proc/loadavg").read().split()[:3])


def fdatasync_ms(directory):
    fd, path = tempfile.mkstemp(dir=directory)
    os.unlink(path)
    buf = b"\x07" * 8192
    t0 = time.perf_counter()
    for i in range(200):
        os.pwrite(fd, buf, (i % 16) * 8192)
        os.fdatasync(fd)
    os.close(fd)
    return round((time.perf_counter() - t0) * 1000 / 200, 3)


def conditions(w):
    emit(w=w, kind="conditions", loadavg=loadavg(), fdatasync_8k_ms=fdatasync_ms(DATA_DIR))


async def run_many(client, wf, n, conc, mk_arg, tag):
    lats = [0.0] * n
    outs = [None] * n
    sem = asyncio.Semaphore(conc)

    async def one(i):
        async with sem:
            t0 = time.perf_counter()
            outs[i] = await client.execute_workflow(wf.run, mk_arg(i), id=f"{tag}-{i}", task_queue=TQ)
            lats[i] = (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    return (time.perf_counter() - t0) * 1000, lats, outs


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))]


async def main():
    client = await Client.connect(ADDR)
    tag = uuid.uuid4().hex[:8]
    async with Worker(client, task_queue=TQ, workflows=[ThreeStep, FlakyStep, FanIn], activities=[step, flaky_step]):
        await run_many(client, ThreeStep, WARM, CONC, lambda i: f"warm-{i}", f"warm-{tag}")  # once per fresh store
        if "w1seq" in ONLY:
            conditions("w1seq")
            meds = []
            for rep in range(REPS):
                load = loadavg()
                wall, lats, outs = await run_many(client, ThreeStep, W1_SEQ_N, 1, lambda i: str(i), f"seq-{tag}-{rep}")
                meds.append(statistics.median(lats))
                emit(w="W1seq", rep=rep, n=W1_SEQ_N, conc=1, medLatMs=round(meds[-1], 1), p99LatMs=round(pct(lats, .99), 1),
                     wallMs=round(wall, 1), completed=sum(1 for o in outs if o["last"] == 3), loadavgBefore=load, loadavgAfter=loadavg())
            emit(w="W1seq", summary=True, n=W1_SEQ_N, medOfReps_medLatMs=round(statistics.median(meds), 1))
        if "w1" in ONLY:
            conditions("w1")
            for n in W1_N:
                rates, p50s, p99s = [], [], []
                for rep in range(REPS):
                    load = loadavg()
                    wall, lats, outs = await run_many(client, ThreeStep, n, CONC, lambda i: str(i), f"w1-{tag}-{n}-{rep}")
                    completed = sum(1 for o in outs if o["last"] == 3)
                    if completed != n:
                        raise SystemExit(f"W1: {completed}/{n} runs returned the expected output")
                    rps = n / (wall / 1000)
                    rates.append(rps); p50s.append(statistics.median(lats)); p99s.append(pct(lats, .99))
                    emit(w="W1", rep=rep, n=n, conc=CONC, wallMs=round(wall, 1), runsPerS=round(rps, 1), stepsPerS=round(3 * rps, 1),
                         medLatMs=round(p50s[-1], 1), p99LatMs=round(p99s[-1], 1), completed=completed,
                         loadavgBefore=load, loadavgAfter=loadavg())
                emit(w="W1", summary=True, n=n, conc=CONC, runsPerS=round(statistics.median(rates), 1),
                     stepsPerS=round(3 * statistics.median(rates), 1), medLatMs=round(statistics.median(p50s), 1),
                     p99LatMs=round(statistics.median(p99s), 1))
        if "w2" in ONLY:
            conditions("w2")
            walls = []
            for rep in range(REPS):
                load = loadavg()
                rid = lambda i, rep=rep: f"w2-{tag}-{rep}-{i}"
                wall, lats, outs = await run_many(client, FlakyStep, W2_N, CONC, rid, f"w2-{tag}-{rep}")
                ok = sum(1 for i in range(W2_N) if ATTEMPTS.get(rid(i)) == 3 and outs[i]["flakyAttempt"] == 2 and outs[i]["last"] == 3)
                walls.append(wall)
                emit(w="W2", rep=rep, n=W2_N, conc=CONC, wallMs=round(wall, 1), completed=sum(1 for o in outs if o["last"] == 3),
                     exactly3Attempts=ok, medLatMs=round(statistics.median(lats), 1),
                     retry="activity retry policy: initial 10 ms, coefficient 1.0, max 10 ms, 10 attempts (server-scheduled)",
                     loadavgBefore=load, loadavgAfter=loadavg())
                if ok != W2_N:
                    raise SystemExit(f"W2 verification failed {ok}/{W2_N}")
            emit(w="W2", summary=True, n=W2_N, wallS=round(statistics.median(walls) / 1000, 3))
        if "w3" in ONLY:
            conditions("w3")
            per = []
            for rep in range(REPS):
                load = loadavg()
                t0 = time.perf_counter()
                out = await client.execute_workflow(FanIn.run, W3_STEPS, id=f"w3-{tag}-{rep}", task_queue=TQ)
                ms = (time.perf_counter() - t0) * 1000
                if out["steps"] != W3_STEPS:
                    raise SystemExit("bad W3 output")
                per.append(ms / W3_STEPS)
                emit(w="W3", rep=rep, steps=W3_STEPS, wallMs=round(ms, 1), msPerStep=round(ms / W3_STEPS, 3),
                     loadavgBefore=load, loadavgAfter=loadavg())
            emit(w="W3", summary=True, steps=W3_STEPS, msPerStep=round(statistics.median(per), 3))


if __name__ == "__main__":
    asyncio.run(main())
