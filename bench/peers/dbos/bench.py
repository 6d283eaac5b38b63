"""DBOS Transact peer benchmark: W1seq, W1 three-step, W2 flaky-step, W3 sequential steps (BENCHMARKS.md).

DBOS is a library: workflows run inside this Python process and checkpoint to the system database
(PostgreSQL on 127.0.0.1, started by run.sh). Submission = DBOS.start_workflow (records the workflow
durably, then runs it on DBOS's executor); completion = handle.get_result(). At most CONC runs in flight.
stdout: JSON lines only, in durin-bench's field names. Adapted from the team's earlier peer measurement
(shared/bench/dbos).
"""
import json, os, statistics, tempfile, threading, time, uuid
from concurrent.futures import ThreadPoolExecutor

from dbos import DBOS, DBOSConfig

URL = os.environ["DBOS_SYSDB_URL"]
DATA_DIR = os.environ.get("DATA_DIR", "/tmp")
REPS = int(os.environ.get("REPS", 3))
CONC = int(os.environ.get("CONC", 100))
W1_N = [int(x) for x in os.environ.get("W1_N", "1000,5000").split(",")]
W1_SEQ_N = int(os.environ.get("W1_SEQ_N", 100))
W2_N = int(os.environ.get("W2_N", 200))
W3_STEPS = int(os.environ.get("W3_STEPS", 1000))
WARM = int(os.environ.get("WARM", 200))
ONLY = os.environ.get("ONLY", "w1seq,w1,w2,w3").split(",")

config: DBOSConfig = {"name": "peer-bench", "system_database_url": URL, "log_level": "WARNING"}
DBOS(config=config)

ATTEMPTS: dict[str, int] = {}
_lock = threading.Lock()


@DBOS.step()
def step(n: int, prev: int) -> dict:
    return {"step": n, "prev": prev}


@DBOS.step(retries_allowed=True, interval_seconds=0.01, backoff_rate=1.0, max_attempts=10)
def flaky_step(run_id: str) -> dict:
    with _lock:
        ATTEMPTS[run_id] = ATTEMPTS.get(run_id, 0) + 1
    st = DBOS.step_status
    attempt = st.current_attempt if st is not None and st.current_attempt is not None else ATTEMPTS[run_id] - 1
    if attempt < 2:
        raise RuntimeError(f"flaky attempt {attempt}")
    return {"step": 2, "attempt": attempt}


@DBOS.workflow()
def three_step(run_id: str) -> dict:
    a = step(1, 0)
    b = step(2, a["step"])
    c = step(3, b["step"])
    return {"id": run_id, "last": c["step"]}


@DBOS.workflow()
def flaky_wf(run_id: str) -> dict:
    step(1, 0)
    b = flaky_step(run_id)
    c = step(3, b["step"])
    return {"id": run_id, "flakyAttempt": b["attempt"], "last": c["step"]}


@DBOS.workflow()
def fan_in(steps: int) -> dict:
    acc = 0
    for i in range(steps):
        step(i, acc)
        acc += 1
    return {"steps": steps, "acc": acc}


def emit(**kw):
    print(json.dumps({"engine": "dbos", "sdk": "python", **kw}), flush=True)


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


def run_many(wf, n, conc, mk_arg):
    lats = [0.0] * n
    outs = [None] * n

    def one(i):
        t0 = time.perf_counter()
        h = DBOS.start_workflow(wf, mk_arg(i))
        outs[i] = h.get_result()
        lats[i] = (time.perf_counter() - t0) * 1000

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=conc) as ex:
        list(ex.map(one, range(n)))
    return (time.perf_counter() - t0) * 1000, lats, outs


def pct(xs, p):
    s = sorted(xs)
    return s[min(len(s) - 1, int(p * len(s)))]


def main():
    DBOS.launch()
    tag = uuid.uuid4().hex[:8]
    run_many(three_step, WARM, CONC, lambda i: f"warm-{tag}-{i}")  # once per fresh database
    if "w1seq" in ONLY:
        conditions("w1seq")
        meds = []
        for rep in range(REPS):
            load = loadavg()
            wall, lats, outs = run_many(three_step, W1_SEQ_N, 1, lambda i: f"seq-{tag}-{rep}-{i}")
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
                wall, lats, outs = run_many(three_step, n, CONC, lambda i: f"w1-{tag}-{n}-{rep}-{i}")
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
            wall, lats, outs = run_many(flaky_wf, W2_N, CONC, rid)
            ok = sum(1 for i in range(W2_N) if ATTEMPTS.get(rid(i)) == 3 and outs[i]["flakyAttempt"] == 2 and outs[i]["last"] == 3)
            walls.append(wall)
            emit(w="W2", rep=rep, n=W2_N, conc=CONC, wallMs=round(wall, 1), completed=sum(1 for o in outs if o["last"] == 3),
                 exactly3Attempts=ok, medLatMs=round(statistics.median(lats), 1),
                 retry="in-process loop: interval 10 ms, backoff_rate 1.0, max_attempts 10", loadavgBefore=load, loadavgAfter=loadavg())
            if ok != W2_N:
                raise SystemExit(f"W2 verification failed {ok}/{W2_N}")
        emit(w="W2", summary=True, n=W2_N, wallS=round(statistics.median(walls) / 1000, 3))
    if "w3" in ONLY:
        conditions("w3")
        per = []
        for rep in range(REPS):
            load = loadavg()
            t0 = time.perf_counter()
            out = DBOS.start_workflow(fan_in, W3_STEPS).get_result()
            ms = (time.perf_counter() - t0) * 1000
            if out["steps"] != W3_STEPS:
                raise SystemExit("bad W3 output")
            per.append(ms / W3_STEPS)
            emit(w="W3", rep=rep, steps=W3_STEPS, wallMs=round(ms, 1), msPerStep=round(ms / W3_STEPS, 3),
                 loadavgBefore=load, loadavgAfter=loadavg())
        emit(w="W3", summary=True, steps=W3_STEPS, msPerStep=round(statistics.median(per), 3))
    DBOS.destroy()


if __name__ == "__main__":
    main()
