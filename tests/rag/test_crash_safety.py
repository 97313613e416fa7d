"""An ingest killed with SIGKILL leaves the previous index queryable; a re-run completes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rag.library import Library
from rag.settings import Settings
from tests.conftest import make_papers

ROOT = Path(__file__).resolve().parents[2]

CHILD = textwrap.dedent("""
    import sys, time
    from rag.library import Library
    from rag.settings import Settings
    from tests.conftest import make_papers

    settings = Settings(home=sys.argv[1], embed={"provider": "fake"})
    papers = make_papers(40) + make_papers(1500, prefix="new")

    def progress(done, total):
        print(f"progress {done} {total}", flush=True)
        time.sleep(0.2)  # give the parent time to kill us between batches

    Library(settings).ingest(papers, progress=progress)
    print("finished", flush=True)
""")


@pytest.mark.slow  # kills an ingest process
def test_sigkill_mid_ingest_then_rerun(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home, embed={"provider": "fake"})  # type: ignore[arg-type]
    baseline = make_papers(40)
    Library(settings).ingest(baseline)

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(home)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    seen = 0
    for line in proc.stdout:
        if line.startswith("progress"):
            done, total = map(int, line.split()[1:])
            if 0 < done < total:
                seen = done
                os.kill(proc.pid, signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and seen > 0

    # The previous index is intact and queryable.
    lib = Library(settings)
    ids = {p.id for p in lib.papers()}
    assert {p.id for p in baseline} <= ids
    assert 40 < len(ids) < 1540
    hits = lib.search("protein language model", k=5).results
    assert hits and all(h.paper_id in ids for h in hits)
    assert lib.store.write_in_progress  # the marker tells the next open to re-sync

    # Running it again completes the job and embeds only what was missing.
    report = Library(settings).ingest(make_papers(40) + make_papers(1500, prefix="new"))
    assert report.papers == 1540
    assert report.unchanged == len(ids)
    assert report.added == 1540 - len(ids)
    final = Library(settings)
    assert not final.store.write_in_progress
    assert len(final.keyword) == final.store.count_chunks()
