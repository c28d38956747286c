"""Profiles in the store: validated with the CLI's messages, versioned, pinned by invites."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from homecheck import aggregator, profiles
from homecheck.hub import ingest, profile_store
from homecheck.hub.models import Submission
from homecheck.hub.profile_store import as_profile, store_profile, store_toml
from homecheck.hub.service import Hub
from tests.homecheck.hub.conftest import AGREEING, invite, report_body
from tests.support import canned


def _stricter_download(toml: str) -> str:
    """The voice profile asking for 50 Mbit/s down (warn below 60) instead of 10 (25)."""
    stricter = toml.replace(
        "min = 10       # [HC] a softphone", "min = 50       # [HC] a softphone"
    )
    stricter = stricter.replace("warn_min = 25  # [BPO]", "warn_min = 60  # [BPO]")
    assert stricter.count("= 50 ") + stricter.count("= 60 ") >= 2
    return stricter


def _stricter_cpu(toml: str) -> str:
    """The voice profile asking for 8 CPU threads instead of 2 (the canned computer has 4)."""
    stricter = toml.replace("min = 2        # [ZOOM]", "min = 8        # [ZOOM]")
    stricter = stricter.replace(
        "warn_min = 4   # [HC] a softphone", "warn_min = 8   # [HC] a softphone"
    )
    assert stricter != toml
    return stricter


def test_a_changed_profile_is_a_new_version_and_the_same_one_is_not(
    hub: Hub, tmp_path: Path
) -> None:
    text = profiles.builtin_path("voice").read_text(encoding="utf-8")
    custom = tmp_path / "team.toml"
    custom.write_text(text.replace('name = "voice"', 'name = "team"'), encoding="utf-8")
    with hub.store.sessions.begin() as session:
        first = store_profile(session, str(custom))
        assert store_profile(session, str(custom)).id == first.id
        custom.write_text(_stricter_download(custom.read_text()), "utf-8")
        second = store_profile(session, str(custom))
    assert (first.name, first.version, second.version) == ("team", 1, 2)
    download = next(
        r for r in as_profile(second).requirements if r.metric == "network.download_mbps"
    )
    assert download.min == 50


def test_an_invalid_profile_is_refused_with_the_clis_message(hub: Hub, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[requirements."network.download_mbps"]\nmin = "fast"\n', "utf-8")
    with pytest.raises(profiles.ProfileError) as cli_error:
        profiles.load(str(bad))
    with hub.store.sessions.begin() as session, pytest.raises(profiles.ProfileError) as stored:
        store_profile(session, str(bad))
    assert str(stored.value) == str(cli_error.value)


def test_an_invite_is_judged_by_its_pinned_version(hub: Hub) -> None:
    invited = invite(hub)  # voice, version 1
    with hub.store.sessions.begin() as session:
        # A stricter "voice" uploaded later is version 2; the invite keeps version 1.
        text = _stricter_cpu(profiles.builtin_path("voice").read_text(encoding="utf-8"))
        newer = store_toml(session, text.encode("utf-8"), source="voice.toml")
    assert newer.version == 2
    results = canned.full_report().results
    on_v1 = aggregator.judge(profiles.load("voice"), results)
    on_v2 = aggregator.judge(as_profile(newer), results)
    # The versions judge the canned computer differently: a warning on 1, a failure on 2.
    assert {a.area: a.verdict.value for a in on_v1.areas}["system"] == "warn"
    assert {a.area: a.verdict.value for a in on_v2.areas}["system"] == "fail"
    ingest.ingest(
        hub.store, hub.key, invite_secret=invited.secret,
        session_id=ingest.open_session(hub.store, invited.secret), body=report_body(),
        observations=AGREEING, client_address=None,
    )  # fmt: skip
    with hub.store.sessions() as session:
        (stored,) = session.scalars(select(Submission))
    assert stored.overall == on_v1.overall.value
    assert stored.areas == {a.area: a.verdict.value for a in on_v1.areas}


def test_an_upload_is_validated_bounded_and_previewed_in_words(hub: Hub) -> None:
    text = profiles.builtin_path("voice").read_bytes()
    with hub.store.sessions.begin() as session:
        stored = profile_store.upload(session, text, "C:\\Users\\ann\\voice.toml")
        with pytest.raises(profiles.ProfileError) as bad:
            profile_store.upload(session, b'name = "x"\nrequirements = 3\n', "/home/ann/x.toml")
        assert str(bad.value) == "x.toml: requirements: a profile needs at least one requirement"
        with pytest.raises(profiles.ProfileError, match="over 256 KiB"):
            profile_store.upload(session, b"#" * (300 * 1024), "big.toml")
        long_name = text.replace(b'name = "voice"', b'name = "' + b"v" * 201 + b'"')
        with pytest.raises(profiles.ProfileError, match="at most 200 printable"):
            profile_store.upload(session, long_name, "long.toml")
        listed = [(p.name, p.version) for p in profile_store.versions(session)]
    assert listed == [("voice", 1)] and stored.version == 1
    lines = profile_store.preview(as_profile(stored))
    download = next(line for line in lines if line.metric == "network.download_mbps")
    assert (download.area, download.required) == ("network", True)
    assert download.limit == "at least 10 Mbit/s (ideally 25+)"
    assert download.advice
    assert len(lines) == len(as_profile(stored).requirements)


def test_profiles_stored_at_once_by_several_writers_get_distinct_versions(hub: Hub) -> None:
    """Two recruiters' first invites on a built-in profile, or admins uploading versions of one
    name at once: `store.write` runs each again after a lost race, no 500, no duplicate."""
    import threading

    from homecheck.hub.models import StoredProfile
    from homecheck.hub.store import write

    text = profiles.builtin_path("voice").read_text(encoding="utf-8")
    variants = [(text + f"\n# variant {i}\n").encode() for i in range(4)]
    barrier = threading.Barrier(8)
    results: list[tuple[str, int]] = []
    errors: list[BaseException] = []

    def store_one(work: object) -> None:
        try:
            barrier.wait(10)

            def run(session: object) -> tuple[str, int]:
                row = work(session)  # type: ignore[operator]
                return row.name, row.version

            results.append(write(hub.store, run))  # type: ignore[arg-type]
        except BaseException as exc:  # reported below
            errors.append(exc)

    works = [lambda s: store_profile(s, "chat") for _ in range(4)]
    works += [lambda s, d=d: store_toml(s, d, source="team.toml") for d in variants]
    threads = [threading.Thread(target=store_one, args=(w,)) for w in works]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert sorted(v for n, v in results if n == "chat") == [1, 1, 1, 1]
    assert sorted(v for n, v in results if n == "voice") == [1, 2, 3, 4]
    with hub.store.sessions() as session:
        rows = session.execute(select(StoredProfile.name, StoredProfile.version)).all()
    assert len(rows) == 5


def test_migration_0004_merges_a_profile_stored_twice(hub: Hub) -> None:
    """A database from before 0004 may hold one content twice (the race above); upgrading keeps
    the first row, moves the invites pinned to the copy onto it, and then refuses a second."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import update
    from sqlalchemy.exc import IntegrityError

    from homecheck.hub.models import Invite, StoredProfile
    from homecheck.hub.store import MIGRATIONS
    from tests.homecheck.hub.conftest import invite

    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with hub.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0003")
    invited = invite(hub)  # stores the built-in voice profile as version 1
    with hub.store.sessions.begin() as session:
        first = session.scalars(select(StoredProfile)).one()
        copy = StoredProfile(name=first.name, version=2, toml=first.toml, sha256=first.sha256)
        session.add(copy)
        session.flush()
        session.execute(
            update(Invite).where(Invite.id == invited.invite_id).values(profile_id=copy.id)
        )
        first_id = first.id
    with hub.store.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with hub.store.sessions() as session:
        assert [p.id for p in session.scalars(select(StoredProfile))] == [first_id]
        assert session.get_one(Invite, invited.invite_id).profile_id == first_id
    with pytest.raises(IntegrityError), hub.store.sessions.begin() as session:
        session.add(StoredProfile(name=first.name, version=3, toml=first.toml, sha256=first.sha256))
