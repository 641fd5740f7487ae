"""The catalog's migrations are history: they carry their own definitions and always build the same schema.

A migration that imported the live models or helpers would change what it does whenever they
change, so a catalog made today and one made a year ago would differ at the same revision.
These tests check that no migration imports project code from outside migrations/, and that
a new catalog comes out with exactly the schema recorded in tests/data/schema-<dialect>.sql.

The schema files were written once from the migrations as they stood before they were made
self-contained (`python -m tests.test_migrations <dialect> <url>` writes one). Rewrite a file only
when you add a migration, and read the diff: it must show that migration's changes and nothing else.
"""

from __future__ import annotations

import ast
import sys
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, create_engine, text

from archive.catalog.facade import Catalog
from tests.conftest import DATA, ROOT

MIGRATIONS = ROOT / "archive" / "catalog" / "migrations"
PROJECT_PACKAGES = {"archive", "scraper", "spiders", "settings", "tests"}  # top-level names of the project's code
OWN_PREFIX = "archive.catalog.migrations"
# env.py hands the live models' metadata to alembic for autogenerate (comparing models with a
# database to draft a migration); upgrades build nothing from it.
ENV_IMPORTS = {"archive.catalog.models": {"Base"}}


def foreign_imports(source: str) -> list[tuple[str, list[str]]]:
    """Return (module, names) of each import of project code outside migrations/ in `source`.

    Every import counts, at any depth (inside functions too), and so do importlib.import_module
    and __import__ calls naming a module; a relative import counts too (alembic loads each revision
    file on its own, so one could only reach a live package).
    """
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(source)):
        imported: list[tuple[str, list[str]]] = []
        if isinstance(node, ast.Import):
            imported = [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            imported = [(module, [alias.name for alias in node.names])]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                imported = [(node.args[0].value, [])]
        for module, names in imported:
            own = module == OWN_PREFIX or module.startswith(f"{OWN_PREFIX}.")
            if module.startswith(".") or (module.split(".")[0] in PROJECT_PACKAGES and not own):
                found.append((module, names))
    return found


def migration_modules() -> list[Path]:
    """Return the revision files and the private modules beside them (everything alembic runs but env.py)."""
    revisions = sorted((MIGRATIONS / "versions").glob("[0-9]*.py"))
    helpers = sorted(p for p in MIGRATIONS.glob("*.py") if p.name not in ("env.py", "__init__.py"))
    return revisions + helpers


def test_the_import_check_sees_imports_anywhere_in_a_module() -> None:
    source = """
import sqlalchemy as sa
from archive.catalog.migrations._similarity_0005 import signatures
from scraper.similarity import term_hash


def upgrade() -> None:
    from archive.catalog.models import site_key
    import archive.catalog.textsearch
    from . import sibling
    importlib.import_module("archive.catalog.similarity")
"""
    assert foreign_imports(source) == [
        ("scraper.similarity", ["term_hash"]),
        ("archive.catalog.models", ["site_key"]),
        ("archive.catalog.textsearch", []),
        (".", ["sibling"]),
        ("archive.catalog.similarity", []),
    ]


def test_no_migration_imports_live_project_code() -> None:
    modules = migration_modules()
    revisions = {p.name.split("_")[0] for p in modules if p.parent.name == "versions"}
    assert revisions == {f"{n:04d}" for n in range(1, 13)}  # the check reads every revision
    found = {p.name: foreign_imports(p.read_text(encoding="utf-8")) for p in modules}
    assert {name: imports for name, imports in found.items() if imports} == {}


def test_env_takes_only_the_models_metadata_for_autogenerate() -> None:
    found = foreign_imports((MIGRATIONS / "env.py").read_text(encoding="utf-8"))
    assert {module: set(names) for module, names in found} == ENV_IMPORTS


def _schema_file(dialect: str) -> Path:
    return DATA / f"schema-{dialect}.sql"


def sqlite_schema(connection: Connection) -> str:
    """Return every table, index, trigger and view of a SQLite database as SQLite stored it, by kind and name."""
    kinds = {"table": 0, "index": 1, "trigger": 2, "view": 3}
    rows = connection.execute(text("SELECT type, name, tbl_name, sql FROM sqlite_master")).all()
    out = []
    for kind, name, table, sql in sorted(rows, key=lambda r: (kinds.get(r[0], 9), r[1])):
        out.append(f"-- {kind} {name} on {table}")
        out.append(f"{sql};" if sql else "-- (made by SQLite for a PRIMARY KEY or UNIQUE constraint)")
    return "".join(f"{line.rstrip()}\n" for line in "\n".join(out).splitlines())  # SQLAlchemy ends lines in ", "


def postgresql_schema(connection: Connection) -> str:
    """Return the tables, columns, constraints, indexes, sequences and triggers of the current schema, as SQL.

    Read from pg_catalog (what pg_dump reads), with the schema's own name left out: each test
    migrates a schema of its own.
    """
    schema = connection.execute(text("SELECT current_schema()")).scalar_one()
    out: list[str] = []

    def query(sql: str, **params: object) -> list[tuple[object, ...]]:
        return [tuple(row) for row in connection.execute(text(sql), params)]

    tables = query(
        "SELECT c.oid, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = :schema AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY c.relname",
        schema=schema,
    )
    for oid, name, kind in tables:
        columns = query(
            "SELECT quote_ident(a.attname), format_type(a.atttypid, a.atttypmod),"
            " CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,"
            " a.attnotnull, a.attgenerated, a.attidentity, pg_get_expr(d.adbin, d.adrelid)"
            " FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid"
            " LEFT JOIN pg_collation co ON co.oid = a.attcollation"
            " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
            " WHERE a.attrelid = :oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
            oid=oid,
        )
        lines = []
        for column, type_, collation, not_null, generated, identity, expression in columns:
            line = f"    {column} {type_}"
            line += f' COLLATE "{collation}"' if collation else ""
            line += f" GENERATED ALWAYS AS ({expression}) STORED" if generated == "s" else ""
            line += f" GENERATED {'ALWAYS' if identity == 'a' else 'BY DEFAULT'} AS IDENTITY" if identity else ""
            line += " NOT NULL" if not_null else ""
            line += f" DEFAULT {expression}" if expression is not None and generated != "s" else ""
            lines.append(line)
        out.append(f"CREATE {'TABLE' if kind in ('r', 'p') else f'RELATION ({kind})'} {name} (")
        out.append(",\n".join(lines))
        out.append(");")
        for constraint, definition in query(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = :oid ORDER BY conname",
            oid=oid,
        ):
            out.append(f"ALTER TABLE {name} ADD CONSTRAINT {constraint} {definition};")
        out.append("")
    for (definition,) in query(
        "SELECT indexdef FROM pg_indexes WHERE schemaname = :schema ORDER BY tablename, indexname", schema=schema
    ):
        out.append(f"{definition};")
    out.append("")
    for sequence, type_, start, increment, minimum, maximum, cycle, owner in query(
        "SELECT c.relname, format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,"
        " s.seqcycle, (SELECT t.relname || '.' || a.attname FROM pg_depend d"
        "  JOIN pg_class t ON t.oid = d.refobjid"
        "  JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid"
        "  WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))"
        " FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = :schema ORDER BY c.relname",
        schema=schema,
    ):
        out.append(
            f"CREATE SEQUENCE {sequence} AS {type_} START {start} INCREMENT {increment} MINVALUE {minimum}"
            f" MAXVALUE {maximum}{' CYCLE' if cycle else ''} OWNED BY {owner};"
        )
    out.append("")
    for (definition,) in query(
        "SELECT pg_get_triggerdef(g.oid) FROM pg_trigger g JOIN pg_class c ON c.oid = g.tgrelid"
        " JOIN pg_namespace n ON n.oid = c.relnamespace"
        " WHERE n.nspname = :schema AND NOT g.tgisinternal ORDER BY c.relname, g.tgname",
        schema=schema,
    ):
        out.append(f"{definition};")
    return "\n".join(out).replace(f"{schema}.", "").rstrip("\n") + "\n"


DUMPS = {"sqlite": sqlite_schema, "postgresql": postgresql_schema}


def new_catalog_schema(url: str) -> str:
    """Return the schema `Catalog(url).migrate()` builds on an empty database."""
    catalog = Catalog(url)
    try:
        catalog.migrate()
        with catalog.engine.connect() as connection:
            return DUMPS[catalog.dialect](connection)
    finally:
        catalog.close()


def test_a_new_catalog_has_the_schema_the_migrations_always_built(db_url: str) -> None:
    dialect = create_engine(db_url).dialect.name
    expected = _schema_file(dialect).read_text(encoding="utf-8")
    assert new_catalog_schema(db_url) == expected


# Documents of a catalog made before 0005: title, text, and the site and language of each capture.
OldDocument = tuple[str | None, str, list[tuple[str | None, str | None]]]
STORIES: list[OldDocument] = [
    (None, p.read_text(encoding="utf-8"), [("news.example.org", "en")]) for p in sorted((DATA / "stories").iterdir())
]
OLD_DOCUMENTS: list[OldDocument] = [
    *STORIES,
    (
        "Bahnhof",
        "Der Bahnhof der Stadt wird erneuert. Die Bahnhöfe im Land sind alt, sagte Bürgermeisterin Käthe Lindqvist.",
        [("News.Example.ORG", "en"), ("example.com", None), ("example.com", "DE")],
    ),
    (None, "港口城市的灯塔将被修复。市议会周二投票通过了修复计划。", [(None, "zh"), ("xn--fsqu00a.xn--fiqs8s", "zh")]),
    ("Short", "ok", [(None, None)]),
    (None, "A document no capture holds any more.", []),
]


def _upgrade_to(catalog: Catalog, revision: str, *, down: bool = False) -> None:
    """Run the migrations up (or, `down`, back) to `revision` on the catalog, in one transaction."""
    config = Config()
    config.set_main_option("script_location", str(resources.files("archive.catalog") / "migrations"))
    with catalog.engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def _add_old_rows(connection: Connection) -> None:
    """Insert OLD_DOCUMENTS and their captures as a catalog at revision 0004 holds them."""
    documents = sa.table(
        "documents",
        *(sa.column(c, sa.Text) for c in ("text_sha256", "title", "text", "language")),
        sa.column("id", sa.Integer),
        sa.column("word_count", sa.Integer),
        sa.column("first_seen_at", sa.DateTime(timezone=True)),
    )
    texts = ["id", "source_url", "canonical_url", "site", "language", "payload_sha256", "text_sha256"]
    texts += ["source_kind", "source_location", "captured_at", "media_type", "extractor", "extractor_version"]
    captures = sa.table(
        "captures",
        *(sa.column(c, sa.Text) for c in [*texts, "project_version"]),
        *(sa.column(c, sa.Integer) for c in ("document_id", "word_count", "input_word_count")),
        *(sa.column(c, sa.JSON) for c in ("authors", "tags", "http_headers", "extractor_options")),
    )
    fixed: dict[str, Any] = {"source_kind": "file", "captured_at": "2026-01-01T00:00:00Z", "media_type": "text/plain"}
    fixed |= {"extractor": "plain", "extractor_version": "1", "project_version": "0.1.0", "payload_sha256": "0" * 64}
    fixed |= {"word_count": 1, "input_word_count": 1, "authors": [], "tags": [], "http_headers": []}
    fixed |= {"extractor_options": {}}
    for n, (title, body, sites) in enumerate(OLD_DOCUMENTS):
        digest = f"{n:064x}"
        document_id = connection.execute(
            documents.insert()
            .values(text_sha256=digest, title=title, text=body, word_count=len(body.split()))
            .values(language=sites[0][1] if sites else None, first_seen_at=datetime(2026, 1, 1, tzinfo=UTC))
            .returning(documents.c.id)
        ).scalar_one()
        for i, (site, language) in enumerate(sites):
            url = f"https://{site}/{n}" if site else f"file:///doc{n}.txt"
            values: dict[str, Any] = {"id": f"{n:02d}{i:030d}", "source_url": url, "canonical_url": url}
            values |= {"site": site, "language": language, "text_sha256": digest, "document_id": document_id}
            connection.execute(captures.insert().values(**fixed, **values, source_location=url))


def _similarity_rows(connection: Connection) -> dict[str, list[tuple[Any, ...]]]:
    queries = {
        "document_signatures": "SELECT document_id, shingles, story FROM document_signatures ORDER BY document_id",
        "document_bands": "SELECT kind, band_key, document_id FROM document_bands ORDER BY kind, band_key, document_id",
        "term_documents": "SELECT term, documents FROM term_documents ORDER BY term",
    }
    return {name: [tuple(row) for row in connection.execute(text(sql))] for name, sql in queries.items()}


def test_an_upgrade_fills_in_what_the_live_code_writes(db_url: str) -> None:
    """0005's signatures, 0006's site keys and 0007's facets of old rows equal what the live code computes.

    The live code writes these for every new row, and searches and story groups compare new rows
    with upgraded ones: a migration that computed them otherwise would leave old rows unfindable.
    If the live code changes how it computes them, this fails: stored values then need a migration.
    """
    catalog = Catalog(db_url)
    try:
        _check_upgrade(catalog)
    finally:
        catalog.close()


def _check_upgrade(catalog: Catalog) -> None:
    from archive.catalog.models import capture_facets, facet, site_key
    from archive.catalog.schema import SCHEMA_REVISION
    from archive.catalog.similarity import index_missing

    _upgrade_to(catalog, "0004")
    with catalog.engine.begin() as connection:
        _add_old_rows(connection)
    catalog.migrate()
    with catalog.engine.begin() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == SCHEMA_REVISION
        captures = connection.execute(text("SELECT document_id, site, language, site_key FROM captures")).all()
        assert len(captures) == sum(len(sites) for _, _, sites in OLD_DOCUMENTS)
        assert {site: key for _, site, _, key in captures} == {site: site_key(site) for _, site, _, _ in captures}
        assert {("News.Example.ORG", "org.example.news."), (None, None)} <= {(c.site, c.site_key) for c in captures}

        facets: dict[int, str] = {
            row[0]: row[1] for row in connection.execute(text("SELECT id, facets FROM documents"))
        }
        expected = {document_id: set[str]() for document_id in facets}
        for document_id, site, language, _ in captures:
            expected[document_id] |= capture_facets(site, language)
        assert facets == {document_id: " ".join(sorted(tokens)) for document_id, tokens in expected.items()}
        bahnhof = connection.execute(text("SELECT id FROM documents WHERE title = 'Bahnhof'")).scalar_one()
        sites = ("org.", "org.example.", "org.example.news.", "com.", "com.example.")
        by_hand = {facet("site", key) for key in sites} | {facet("language", "en"), facet("language", "de")}
        assert set(facets[bahnhof].split()) == by_hand
        assert list(facets.values()).count("") == 2  # "Short" (no site, no language) and the one without captures

        upgraded = _similarity_rows(connection)
        assert [row[0] for row in upgraded["document_signatures"]] == sorted(facets)  # every old document
        assert any(row[2] is not None for row in upgraded["document_signatures"])  # key terms found
        assert upgraded["document_bands"] and upgraded["term_documents"]
        for table in ("document_bands", "document_signatures", "term_documents"):
            connection.execute(text(f"DELETE FROM {table}"))
        assert index_missing(connection) == len(OLD_DOCUMENTS)
        assert _similarity_rows(connection) == upgraded


def test_term_counts_move_into_a_rowid_table_and_back(tmp_path: Path) -> None:
    """0011 on SQLite: term_documents keyed by its rowid (no separate index), every count kept, both ways."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    counts = [(-(2**63), 1), (-5, 7), (0, 2), (12345678901234, 3), (2**63 - 1, 40)]  # signed 64-bit hashes
    try:
        _upgrade_to(catalog, "0010")
        with catalog.engine.begin() as connection:
            for term, documents in counts:
                connection.execute(text("INSERT INTO term_documents VALUES (:t, :d)"), {"t": term, "d": documents})

        def state() -> tuple[list[tuple[Any, ...]], list[str]]:
            with catalog.engine.connect() as connection:
                rows = [tuple(r) for r in connection.execute(text("SELECT term, documents FROM term_documents"))]
                indexes = [r[1] for r in connection.execute(text("PRAGMA index_list(term_documents)"))]
            return rows, indexes

        assert state() == (counts, ["sqlite_autoindex_term_documents_1"])
        _upgrade_to(catalog, "0011")
        assert state() == (counts, [])  # the rowid is the key: rows in term order, no index beside them
        _upgrade_to(catalog, "0010", down=True)
        assert state() == (counts, ["sqlite_autoindex_term_documents_1"])
    finally:
        catalog.close()


if __name__ == "__main__":  # python -m tests.test_migrations <dialect> <url of an empty database or schema>
    dialect, url = sys.argv[1:3]
    _schema_file(dialect).write_text(new_catalog_schema(url), encoding="utf-8")


def test_the_schema_revision_the_catalog_opens_without_alembic_is_the_newest_migration() -> None:
    """A catalog at SCHEMA_REVISION skips alembic at start-up, so it must be the migrations' head."""
    from archive.catalog.schema import SCHEMA_REVISION, head_revision

    assert head_revision() == SCHEMA_REVISION
