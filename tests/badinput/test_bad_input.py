"""The README's promise, case by case: bad input ends with one ``fcdd: error:`` line and exit code 2,
before anything is written; an existing results folder stays byte-identical; hostile files run nothing.

Every case of :data:`tests.badinput.cases.CASES` runs the real CLI in a subprocess (two at a time:
each is a fresh interpreter importing torch), from its own folder as the working directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.badinput.cases import CASES, Case, substitute
from tests.badinput.world import World, run_cli, tree_digest


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    before: dict[str, str]
    after: dict[str, str]


@pytest.fixture(scope="session")
def outcomes(world: World, tmp_path_factory, request: pytest.FixtureRequest) -> Iterator[dict[str, Future[Outcome]]]:
    """Every selected case started in the background, two at a time, in test order; each test waits for its own.

    Waiting here for all of them would bill the whole file's runs to the first test's setup
    (about 6 minutes on 2 cores for the 128 cases), which hid where the time goes.
    """
    # Only the cases this session selected (``-k``) run: a focused rerun takes seconds, not minutes.
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if hasattr(item, "callspec") and isinstance(item.callspec.params.get("case"), Case)
    }
    cases_root = tmp_path_factory.mktemp("cases")

    def one(case: Case) -> Outcome:
        folder = cases_root / case.id
        folder.mkdir()
        if case.setup is not None:
            case.setup(world, folder)
        argv = substitute(case.argv(world, folder), folder)
        before = tree_digest(folder)
        done = run_cli(argv, folder)
        return Outcome(done.returncode, done.stdout, done.stderr, before, tree_digest(folder))

    pool = ThreadPoolExecutor(max_workers=2)
    yield {case.id: pool.submit(one, case) for case in CASES if case.id in selected}
    pool.shutdown(cancel_futures=True)


def test_enough_cases() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, outcomes: dict[str, Future[Outcome]], world: World) -> None:
    outcome = outcomes[case.id].result()
    output = outcome.stdout + outcome.stderr
    errors = [line for line in outcome.stderr.splitlines() if line.startswith("fcdd: error:")]
    assert outcome.returncode == 2, output
    assert len(errors) == 1, output
    assert "Traceback" not in output, output
    assert re.search(case.expect, errors[0]), errors[0]
    print(f"{case.id}: {errors[0]}")  # `pytest -rP` lists every case's message
    assert outcome.after == outcome.before, "the command changed files in its folder:\n" + output
    assert not world.marker.exists(), "a hostile input ran code"
