"""The kit's one migration: what a new database, an up-to-date one and a partly migrated one get from ``migrate``."""
from importlib import import_module
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder

from proxy.checks import SQUASHED_MIGRATION, check_migrated_through_the_squash, partly_migrated

MIGRATIONS = Path(import_module("proxy.migrations").__file__).parent
REPLACED = [name for app, name in import_module(f"proxy.migrations.{SQUASHED_MIGRATION}").Migration.replaces]


def test_the_kit_ships_one_migration_in_place_of_its_fourteen():
    assert sorted(p.name for p in MIGRATIONS.glob("0*.py")) == [f"{SQUASHED_MIGRATION}.py"]
    assert len(REPLACED) == 14 and REPLACED[0] == "0001_initial" and REPLACED[-1] == SQUASHED_MIGRATION.split(
        "squashed_")[1]


def test_the_migration_matches_the_models(db):
    out = StringIO()
    call_command("makemigrations", "proxy", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


@pytest.mark.parametrize("applied, partly", [
    (set(), []),  # a new database: migrate applies the one migration
    (set(REPLACED), []),  # ran all fourteen: Django counts the squashed one as applied
    ({SQUASHED_MIGRATION}, []),
    ({SQUASHED_MIGRATION, *REPLACED[:3]}, []),
    (set(REPLACED[:10]), REPLACED[:10]),
    ({REPLACED[0]}, REPLACED[:1]),
    (set(REPLACED[1:]), REPLACED[1:]),  # a gap counts too
])
def test_partly_migrated_names_what_an_older_kit_ran_when_it_is_not_all(applied, partly):
    assert partly_migrated(applied | {"not_a_kit_migration"}) == partly


def test_a_database_that_ran_all_fourteen_has_the_migration_applied(db):
    # Leave exactly the rows an older kit's migrate wrote: the fourteen names, not the squashed one's.
    recorder = MigrationRecorder(connection)
    recorder.record_unapplied("proxy", SQUASHED_MIGRATION)
    assert {name for app, name in recorder.applied_migrations() if app == "proxy"} == set(REPLACED)
    assert ("proxy", SQUASHED_MIGRATION) in MigrationLoader(connection).applied_migrations
    assert check_migrated_through_the_squash(databases=["default"]) == []


def test_migrate_stops_on_a_database_an_older_kit_migrated_only_part_way(db):
    recorder = MigrationRecorder(connection)
    for name in [SQUASHED_MIGRATION, *REPLACED[10:]]:  # as if the older kit had stopped at 0010
        recorder.record_unapplied("proxy", name)

    [error] = check_migrated_through_the_squash(databases=["default"])
    assert error.id == "proxy.E016" and "0010_installationchange_signal_claim" in error.msg
    assert "docs/upgrading.md" in error.hint
    with pytest.raises(SystemCheckError, match="proxy.E016"):
        call_command("migrate", "proxy", verbosity=0, skip_checks=False)
    # Without a database to ask (plain `check`), the check says nothing.
    assert check_migrated_through_the_squash(databases=None) == []
