"""Exact duplicates, near-duplicates and same-story groups, through the CLI on both catalogs.

The five shared seeds are one story told by five sites (independent rewrites, not copies).
Around them: a fictional local story in three documents (the original page, a syndicated
copy under other page furniture, an independent rewrite), an exact copy of the original page,
a fictional article about the same president on a different subject and dated within days of
the seeds, and forty unrelated pages of the evaluation set.

The archive is replayed once per catalog (SQLite, PostgreSQL: the similar/stories family's run
on both, whose candidate search is SQL of each database's own) and read by every test.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.conftest import BOTH_DATABASES, DATA, EVAL_SET, PROJECT_SEEDS, Cli, need, postgres_schema

STORIES = DATA / "stories"
HARBOR = PROJECT_SEEDS / "html" / "harbor-lighthouse.html"
HARBOR_URL = "https://www.coastlinecourier.example/2025/03/14/harbor-town-votes-to-restore-lighthouse/"
WIRE_URL = "https://shorelinewire.example/regional/port-wendell-lighthouse-bond"


@pytest.fixture(scope="module", params=BOTH_DATABASES)
def replayed(
    request: pytest.FixtureRequest, shared_seeds: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Cli, dict[str, str]]]:
    """Replay everything once into a catalog of each kind; return its CLI and record ids by short name."""
    with ExitStack() as stack:
        tmp_path = tmp_path_factory.mktemp(f"stories-{request.param}")
        sqlite = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
        db = sqlite if request.param == "sqlite" else stack.enter_context(postgres_schema())
        cli = Cli(cwd=tmp_path, data=tmp_path / "data", db=db)
        yield cli, _archive(cli, shared_seeds, tmp_path)


@pytest.fixture
def cli(replayed: tuple[Cli, dict[str, str]]) -> Cli:
    return replayed[0]


@pytest.fixture
def archive(replayed: tuple[Cli, dict[str, str]]) -> dict[str, str]:
    return replayed[1]


def _archive(cli: Cli, shared_seeds: Path, tmp_path: Path) -> dict[str, str]:
    """Replay everything; return record ids by short name."""
    need((EVAL_SET / "html").is_dir(), f"the evaluation set is not at {EVAL_SET}")
    unrelated = tmp_path / "unrelated"
    unrelated.mkdir()
    for page in sorted((EVAL_SET / "html").glob("*.html.gz"))[:40]:
        shutil.copy(page, unrelated / page.name)
    mirror = tmp_path / "mirror" / "harbor-mirror.html"
    mirror.parent.mkdir()
    mirror.write_bytes(HARBOR.read_bytes() + b"<!-- mirrored copy: same article, other bytes -->\n")
    paths = [shared_seeds, HARBOR, mirror, STORIES, unrelated]
    cli("replay", *map(str, paths), check=True)
    records = [json.loads(line) for line in cli("export", check=True).out.splitlines()]
    by_location = {r["provenance"]["source_location"]: r for r in records}
    ids = {Path(location).name: record["id"] for location, record in by_location.items()}
    return ids


def _stories(cli: Cli) -> list[set[str]]:
    found = json.loads(cli("stories", "--format", "json", check=True).out)
    return [{d["url"] for d in story["documents"]} for story in found]


def test_the_shared_seeds_are_one_story_and_nothing_unrelated_joins(
    cli: Cli, archive: dict[str, str], shared_seeds: Path
) -> None:
    # Saved files are archived by their names under the folder given: urn:file:seeds/NAME.
    seeds = {url for url in _all_urls(cli) if url in {f"urn:file:seeds/{p.name}" for p in shared_seeds.iterdir()}}
    assert len(seeds) == 5
    stories = _stories(cli)
    assert seeds in stories, stories
    harbor = {HARBOR_URL, WIRE_URL, next(u for u in _all_urls(cli) if u.endswith("harbor-rewrite.txt"))}
    assert harbor in stories, stories
    water = next(u for u in _all_urls(cli) if u.endswith("water-plan.txt"))
    assert not any(water in story for story in stories)
    # The forty unrelated pages may pair among themselves, never with the two stories.
    for story in stories:
        assert story in (seeds, harbor) or not (story & (seeds | harbor))


def test_similar_names_same_text_near_duplicate_and_same_story(cli: Cli, archive: dict[str, str]) -> None:
    found = json.loads(cli("similar", archive["harbor-lighthouse.html"], "--format", "json", check=True).out)
    relations = {(item["relation"], item["url"]): item for item in found}
    same_text = relations[("same text", HARBOR_URL)]
    assert same_text["record_id"] == archive["harbor-mirror.html"]
    near = relations[("near-duplicate", WIRE_URL)]
    assert 0.5 <= near["score"] < 1.0  # the copy dropped a paragraph and changed two words
    [rewrite] = [item for item in found if item["url"].endswith("harbor-rewrite.txt")]
    assert rewrite["relation"] == "same story"
    assert not any(
        item["url"].endswith(("water-plan.txt", ".txt")) and "urn:file:seeds/" in item["url"] for item in found
    )
    assert len(found) == 3, found


def test_same_subject_different_event_is_not_the_same_story(cli: Cli, archive: dict[str, str]) -> None:
    found = json.loads(cli("similar", archive["water-plan.txt"], "--format", "json", check=True).out)
    assert found == []
    # One seed has no publication date: its capture date (today) stands in, so no --until.
    table = cli("stories", "--since", "2025-05-01", check=True).out
    assert "story 1: 5 documents, 5 sites, 2025-05-04 .. 2025-05-06" in table
    assert "water-plan.txt" not in table
    assert "1 stories" in table  # the March story is outside the dates asked for


def _all_urls(cli: Cli) -> list[str]:
    return [json.loads(line)["canonical_url"] for line in cli("export", check=True).out.splitlines()]


def test_a_story_line_counts_in_words_that_agree_with_their_number() -> None:
    from archive.cli.stories import _count

    assert [_count(n, "site") for n in (0, 1, 2)] == ["0 sites", "1 site", "2 sites"]
