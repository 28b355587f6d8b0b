"""The code's own promises, checked: no imports inside functions to dodge cycles, every
operation declares who may call it, and the one declaration of a person's stored fields agrees
with the table, the answer and the GraphQL types derived beside it."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path
from typing import get_args, get_type_hints

import pytest
from graphql import GraphQLObjectType, get_named_type
from strawberry.types.field import StrawberryField

from app.api.internals import graphql_schema, strawberry_field
from app.api.tilgang import tillatelse
from app.edge.graphql import offentlige_felt
from app.edge.schema import build_schema
from app.endringer import rest as endringer_rest
from app.personer import rest as personer_rest
from app.personer.felt import KOLONNER, LAGREDE, PersonRecord
from app.personer.models import Person as PersonTabell
from app.personer.models import Postkasseleverandoer
from app.personer.utlevering import DigitalPost, Kontaktinformasjon, PersonSvar, person_felt
from app.printsertifikat import rest as printsertifikat_rest
from app.testdata import csv_export
from app.testdata.seed import COLUMNS
from authz.scopes import PERSON_FELT
from authz.tillatelse import Kallertype

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("app", "authz", "tests", "bench")
# The krr command imports what a subcommand needs when it runs (start-up time).
LAZY_ALLOWED = {ROOT / "app" / "cli.py"}


def _function_level_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    type_checking = {
        id(node) for block in ast.walk(tree) if isinstance(block, ast.If)
        and isinstance(block.test, ast.Name) and block.test.id == "TYPE_CHECKING"
        for node in ast.walk(block)
    }
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            if id(inner) in type_checking:
                continue
            if isinstance(inner, ast.ImportFrom) and inner.module:
                modules = [inner.module]
            elif isinstance(inner, ast.Import):
                modules = [alias.name for alias in inner.names]
            else:
                continue
            if any(m.split(".")[0] in PROJECT for m in modules):
                found.append(f"{path.relative_to(ROOT)}:{inner.lineno} {', '.join(modules)}")
    return found


def test_no_function_imports_the_projects_own_modules():
    files = [p for top in PROJECT for p in (ROOT / top).rglob("*.py")
             if "migrations" not in p.parts and p not in LAZY_ALLOWED]
    assert len(files) > 50
    found = [hit for path in files for hit in _function_level_imports(path)]
    assert not found, "\n".join(found)


# --- declared permissions -------------------------------------------------------------------

def _root_fields(name: str) -> dict[str, StrawberryField | None]:
    root = graphql_schema(build_schema()).get_type(name)
    assert isinstance(root, GraphQLObjectType)
    return {field_name: strawberry_field(field) for field_name, field in root.fields.items()}


@pytest.mark.parametrize("root", ["Query", "Mutation"])
def test_every_operation_declares_who_may_call_it(root):
    undeclared = [name for name, definition in _root_fields(root).items()
                  if definition is None or tillatelse(definition) is None]
    assert not undeclared


def test_only_the_key_figures_and_the_print_provider_need_no_token():
    """Both hold no one's data; the print provider is read without a token by eFormidling."""
    assert offentlige_felt(build_schema()) == {"statistikk", "printSertifikat", "__typename"}
    declared = [tillatelse(d) for d in _root_fields("Mutation").values() if d is not None]
    assert all(t is not None and t.kaller is not Kallertype.ALLE for t in declared)


def test_every_route_beside_graphql_declares_who_may_call_it():
    for rute in (personer_rest.RUTE, endringer_rest.RUTE, csv_export.RUTE):
        assert rute.tillatelse.kaller is Kallertype.ORGANISASJON, rute.path
    assert printsertifikat_rest.RUTE.tillatelse.kaller is Kallertype.ALLE  # as the real one


# --- one declaration of a person's stored fields --------------------------------------------

def test_the_declared_fields_are_the_tables_columns(db):
    """(The `db` fixture: tortoise knows a model's foreign-key columns once initialised.)"""
    person = PersonTabell._meta.fields_db_projection  # ORM attribute -> column
    leverandoer = set(Postkasseleverandoer._meta.fields_db_projection.values())
    for kolonne in KOLONNER:
        if kolonne.felt.tabell == "l":
            assert kolonne.navn in leverandoer, kolonne.navn
        else:
            assert person[kolonne.orm] == kolonne.navn, kolonne.navn
    # Every column a person's row has is declared, except the feed's own bookkeeping.
    assert set(person.values()) - {k.navn for k in KOLONNER} == {"endrings_id"}
    assert COLUMNS == LAGREDE


def test_the_answer_uses_the_declared_names():
    declared = set(PersonRecord._fields)
    for nested in (Kontaktinformasjon, DigitalPost):
        assert {f.name for f in dataclasses.fields(nested)} <= declared, nested
    hints = get_type_hints(PersonSvar)
    for f in dataclasses.fields(PersonSvar):
        nested = any(dataclasses.is_dataclass(a) for a in get_args(hints[f.name]))
        assert nested or f.name in declared or f.name == "varslingsstatus", f.name
        assert person_felt(f.name) in PERSON_FELT, f.name


def test_the_graphql_person_is_the_answer():
    schema = graphql_schema(build_schema())
    person = schema.get_type("Person")
    assert isinstance(person, GraphQLObjectType)
    assert set(person.fields) == set(PERSON_FELT)
    for graphql_name, answer in (("Kontaktinformasjon", Kontaktinformasjon),
                                 ("DigitalPost", DigitalPost)):
        typ = schema.get_type(graphql_name)
        assert isinstance(typ, GraphQLObjectType)
        assert len(typ.fields) == len(dataclasses.fields(answer))
    named = {name: get_named_type(field.type).name for name, field in person.fields.items()}
    assert named["kontaktinformasjon"] == "Kontaktinformasjon"
    assert named["digitalPost"] == "DigitalPost"
