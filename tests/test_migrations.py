"""Migrations bring an empty database to the models' schema, on SQLite and PostgreSQL alike (issue 2)."""
import migrations
from tests.conftest import all_models


def test_every_model_table_exists_with_all_its_columns(app, database):
    tables = set(database.get_tables())
    for model in all_models():
        assert model._meta.table_name in tables
        columns = {c.name for c in database.get_columns(model._meta.table_name)}
        assert {f.column_name for f in model._meta.sorted_fields} <= columns, model.__name__


def test_upgrade_is_recorded_and_runs_nothing_twice(app, database):
    assert migrations.upgrade(database) == []
    names = {m.name for m in migrations.SchemaMigration.select()}
    assert set(migrations.migration_names()) <= names


def test_cli_upgrade_and_demo_on_a_fresh_sqlite_database(tmp_path):
    from app import create_app
    from models import User, open_database

    database = open_database(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    app = create_app({"TESTING": True, "DATABASE": database, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                      "ARGON2_MEMORY_KIB": 19456, "ARGON2_TIME_COST": 2})
    runner = app.test_cli_runner()
    try:
        result = runner.invoke(args=["db", "upgrade"])
        assert "m0001_core" in result.output
        result = runner.invoke(args=["demo", "--if-empty"])
        assert "owner@demo.example.com" in result.output
        with app.app_context(), database.connection_context():
            assert User.select().count() == 3
        assert "already loaded" in runner.invoke(args=["demo", "--if-empty"]).output
        # README: one command lowers the demo balance below the owner's alert, through the notification path.
        result = runner.invoke(args=["demo-charge"])
        assert result.exit_code == 0 and "the balance is now 734.50" in result.output
        with app.app_context(), database.connection_context():
            from models import Notification

            owner = User.get(User.email == "owner@demo.example.com")
            assert Notification.select().where(Notification.user == owner.id,
                                               Notification.category == "low_balance").count() == 1
    finally:
        database.close_all()  # the next test's app fixture binds the run's database again
