"""Searches while another process runs `ingest --rebuild`: how often does a search fail?

Run:  python bench/rebuild_race.py [--runs 20] [--rebuilds 3] [--busy 0]

The body of tests/rag/test_rebuild_swap.py::test_searches_do_not_fail_while_another_process_
rebuilds, in a loop: each run ingests 30 papers into a fresh home, starts a second process
that rebuilds the collection `--rebuilds` times, and meanwhile searches in the default,
bm25 and dense modes. A run fails when any search raises or comes back empty. That race
shows up in a few runs out of a hundred on a loaded machine and almost never on an idle
one; `--busy N` adds N busy-looping processes. Prints one line per run and a summary.
"""

from __future__ import annotations

import argparse
import collections
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

REBUILDER = """
import sys
from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers

settings = Settings(home=sys.argv[1], embed={"provider": "fake"})
for i in range(int(sys.argv[2])):
    Library(settings).ingest(make_papers(30), rebuild=True)
    print("rebuilt", i, flush=True)
"""


def _spin() -> None:
    while True:
        pass


def one_run(rebuilds: int) -> tuple[int, list[str], bool]:
    """(searches, failures, child ok) for one rebuilding process."""
    from rag.library import Library
    from rag.settings import Settings
    from tests.conftest import make_papers

    home = Path(tempfile.mkdtemp(prefix="paperchat-race-"))
    try:
        papers = make_papers(30)
        ids = {p.id for p in papers}
        reader = Library(Settings(home=home, embed={"provider": "fake"}))  # type: ignore[arg-type]
        reader.ingest(papers)
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        child = subprocess.Popen([sys.executable, "-c", REBUILDER, str(home), str(rebuilds)],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
        searches, failures = 0, []
        while child.poll() is None:
            for mode in ("default", "bm25", "dense"):
                try:
                    hits = reader.search("protein language model", 3, mode=mode).results
                except Exception as e:
                    failures.append(f"{mode}: {type(e).__name__}: {str(e)[:80]}")
                    continue
                if not hits or not {h.paper_id for h in hits} <= ids:
                    failures.append(f"{mode}: {len(hits)} hits")
                searches += 1
        out, _ = child.communicate(timeout=300)
        return searches, failures, child.returncode == 0 and out.count("rebuilt") == rebuilds
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--rebuilds", type=int, default=3)
    ap.add_argument("--busy", type=int, default=0, help="busy-looping processes meanwhile")
    args = ap.parse_args()

    from rag import library as library_module

    library_module.FRESHNESS_S = 0.2  # as the test: notice the other process's writes soon
    spinners = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(args.busy)]
    for s in spinners:
        s.start()
    failed, kinds, loads = 0, collections.Counter[str](), []
    t0 = time.perf_counter()
    try:
        for run in range(args.runs):
            searches, failures, child_ok = one_run(args.rebuilds)
            failed += bool(failures) or not child_ok
            kinds.update(f.split(" (")[0] for f in failures)
            loads.append(os.getloadavg()[0])
            print(f"run {run}: {searches} searches, {len(failures)} failed, rebuilder ok "
                  f"{child_ok}, load {loads[-1]:.1f} {failures[:2]}", flush=True)
    finally:
        for s in spinners:
            s.terminate()
    print(f"failed runs: {failed}/{args.runs} in {time.perf_counter() - t0:.0f} s, load "
          f"{min(loads, default=0):.1f}-{max(loads, default=0):.1f}; {dict(kinds)}")


if __name__ == "__main__":
    main()
