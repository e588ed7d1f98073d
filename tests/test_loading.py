"""Statements run alone (PostgreSQL, autocommit) borrow connections from the pool that the
sessions' transactions use: a connection must come back to the sessions as they expect it."""

import pytest
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from helpline import create_app, loading
from helpline.extensions import db
from tests import factories

on_postgresql = pytest.mark.parametrize("database_url_for_tests", ["postgresql"], indirect=True)
staff = factories.StaffUser.__table__
copied = [c for c in staff.columns if not c.primary_key]
# A second staff member with the same e-mail address: refused by the unique constraint.
copy_staff_member = insert(staff).from_select(
    [c.key for c in copied], select(*copied).where(staff.c.id == bindparam("id"))
)
staff_member = select(staff.c.email).where(staff.c.id == bindparam("id"))
rename = update(staff).where(staff.c.id == bindparam("id")).values(display_name=bindparam("name"))


@on_postgresql
def test_a_rolled_back_change_stays_undone_on_a_connection_that_ran_a_statement_alone(app):
    one_connection = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "test-secret",
            "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
            "REDIS_URL": None,
            "RATELIMIT_STORAGE_URI": "memory://",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 1, "max_overflow": 0},
        }
    )
    with one_connection.app_context():
        anna = factories.staff_user("Anna")
        db.session.commit()
        anna_id = anna.id
        assert loading.between_transactions()
        assert loading.first(staff_member, {"id": anna_id})[0] == anna.email
        # A statement without rows: nothing to return, and it is committed when it returns.
        assert loading.first(rename, {"id": anna_id, "name": "Anna B."}) is None
        assert loading.between_transactions()
        with pytest.raises(IntegrityError):
            loading.first(copy_staff_member, {"id": anna_id})

        # The pool's one connection ran both; a session's work on it is a transaction again.
        ben = factories.StaffUser(
            email="ben@example.org", display_name="Ben", role="counsellor", password_hash="-"
        )
        db.session.add(ben)
        db.session.flush()
        db.session.rollback()

        assert db.session.scalar(select(func.count()).select_from(staff)) == 1
        assert db.session.scalar(select(staff.c.display_name)) == "Anna B."
        db.session.remove()
        db.engine.dispose()
