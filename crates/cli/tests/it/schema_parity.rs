//! The SQLite and PostgreSQL schemas after all migrations are the same
//! (issue 12): `migrations/sqlite` and `migrations/postgres` are written
//! twice, column for column, and this test keeps them from drifting.
//!
//! Both databases are migrated fresh and read back by introspection (never
//! by parsing the migrations), into one vocabulary per table:
//!
//! - the table itself;
//! - `column <name>`: its type mapped to a common name (`sql_type`),
//!   nullability, its default (a rowid alias and an identity column are
//!   both `auto id`);
//! - `primary key`: its columns in order;
//! - `index <name>`: the indexes made by `CREATE INDEX` (not those behind a
//!   key), their key columns in order (`DESC` marked), unique, partial;
//! - `unique (<columns>)`: the unique constraints (SQLite's auto-indexes
//!   have no names worth comparing, so they are keyed by their columns);
//! - `foreign key (<columns>) -> <table>`: referenced columns, `ON DELETE`;
//! - `trigger <name>` (user triggers only); views by name, as `view <name>`
//!   beside the tables.
//!
//! Not compared: CHECK constraints and partial-index predicates (PostgreSQL
//! rewrites their text), collations (PostgreSQL's `COLLATE "C"` is how its
//! text compares as bytes, as SQLite's BINARY always does), and sqlx's own
//! `_sqlx_migrations`.
//!
//! A deliberate difference goes in `ALLOWED` with its reason. An entry
//! states exactly what each backend has, so one that no longer holds (the
//! difference was removed, or changed) fails the test too.

use std::collections::{BTreeMap, BTreeSet};

use crate::common::{Backend, TestDb};

/// One deliberate difference: what each backend has for `item` of `table`
/// (`None`: absent there), and why.
struct Allowed {
    table: &'static str,
    item: &'static str,
    sqlite: Option<&'static str>,
    postgres: Option<&'static str>,
    why: &'static str,
}

/// Keep this list as short as possible: a drift is fixed by a migration on
/// the backend that lacks it, not listed here.
const ALLOWED: &[Allowed] = &[
    Allowed {
        table: "feedback",
        item: "index feedback_received",
        sqlite: Some("(received_at)"),
        postgres: None,
        why: "SQLite's index carries the rowid, which breaks ties as the listing's \
              ORDER BY received_at DESC, id DESC asks (0009); PostgreSQL dropped it \
              in 0011 for feedback_received_id, which serves every read it did",
    },
    Allowed {
        table: "feedback",
        item: "index feedback_received_id",
        sqlite: None,
        postgres: Some("(received_at, id)"),
        why: "PostgreSQL has no rowid in its indexes: without id the listing sorts \
              the whole window before its LIMIT (0009)",
    },
    Allowed {
        table: "feedback",
        item: "column late_at",
        sqlite: Some("integer null"),
        postgres: Some("bigint null"),
        why: "0011 declared it INTEGER on SQLite, BIGINT (Unix seconds) on PostgreSQL. \
              On SQLite both are the same 64-bit integer (INTEGER affinity), so nothing \
              reads or stores it differently; changing the declaration means rebuilding \
              the feedback table (the largest, referenced by events, photos, itself, \
              notifications and the outbox), a risk for no behaviour",
    },
    Allowed {
        table: "deliveries",
        item: "foreign key (announcement_id) -> announcements",
        sqlite: Some("(id) on delete no action"),
        postgres: None,
        why: "0014 dropped it on PostgreSQL (a trigger fired and planned per row of a \
              plan); SQLite keeps it (one look-up per row). ARCHITECTURE.md, Invariants, \
              'An announcement reaches each household …'",
    },
    Allowed {
        table: "outbox",
        item: "foreign key (announcement_id) -> announcements",
        sqlite: Some("(id) on delete no action"),
        postgres: None,
        why: "dropped on PostgreSQL only by 0014, as deliveries' key to announcements",
    },
    Allowed {
        table: "outbox",
        item: "foreign key (delivery_id) -> deliveries",
        sqlite: Some("(id) on delete no action"),
        postgres: None,
        why: "dropped on PostgreSQL only by 0014, as deliveries' key to announcements",
    },
];

/// table → item → description.
type Schema = BTreeMap<String, BTreeMap<String, String>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_and_postgres() {
    let sqlite = TestDb::new(Backend::Sqlite).await;
    let postgres = TestDb::new(Backend::Postgres).await;
    let read = async {
        let lite = match &sqlite.store.db {
            danvan_store::Db::Sqlite(p) => sqlite_schema(p).await?,
            danvan_store::Db::Postgres(_) => unreachable!("a SQLite test database"),
        };
        let pg = match &postgres.store.db {
            danvan_store::Db::Postgres(p) => postgres_schema(p).await?,
            danvan_store::Db::Sqlite(_) => unreachable!("a PostgreSQL test database"),
        };
        Ok::<_, sqlx::Error>((lite, pg))
    }
    .await;
    // Dropped before any assertion, so a failure leaves no database behind.
    sqlite.finish().await;
    postgres.finish().await;
    let (lite, pg) = read.expect("read both schemas");

    assert!(
        lite.len() > 30 && lite.get("feedback").is_some_and(|t| t.len() > 30),
        "introspection found the migrated tables: {:?}",
        lite.keys().collect::<Vec<_>>()
    );
    let problems = compare(&lite, &pg);
    assert!(
        problems.is_empty(),
        "\nThe SQLite and PostgreSQL schemas differ after all migrations ({} difference(s)):\n\
         {}\n\
         Fix it with a migration pair (the next number, in migrations/sqlite and \
         migrations/postgres); a deliberate difference goes in ALLOWED in \
         crates/cli/tests/it/schema_parity.rs with its reason.\n",
        problems.len(),
        problems
            .iter()
            .map(|p| format!("  - {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Every difference not allowed, and every allowance that no longer holds.
fn compare(lite: &Schema, pg: &Schema) -> Vec<String> {
    let shown = |d: Option<&String>| d.map_or("(absent)".to_string(), |d| d.clone());
    let mut problems = Vec::new();
    let mut allowed = BTreeSet::new();
    for a in ALLOWED {
        let l = lite.get(a.table).and_then(|t| t.get(a.item));
        let p = pg.get(a.table).and_then(|t| t.get(a.item));
        if l.map(String::as_str) != a.sqlite || p.map(String::as_str) != a.postgres {
            problems.push(format!(
                "{}: {}: the allow-list entry no longer holds (sqlite: {}, postgres: {}; \
                 listed as sqlite: {}, postgres: {}, because {}); remove or update it",
                a.table,
                a.item,
                shown(l),
                shown(p),
                a.sqlite.unwrap_or("(absent)"),
                a.postgres.unwrap_or("(absent)"),
                a.why,
            ));
        }
        allowed.insert((a.table, a.item));
    }

    let tables: BTreeSet<&String> = lite.keys().chain(pg.keys()).collect();
    for table in tables {
        let (l, p) = match (lite.get(table), pg.get(table)) {
            (Some(l), Some(p)) => (l, p),
            (Some(l), None) => {
                problems.push(only_in(table, "sqlite", l));
                continue;
            }
            (None, Some(p)) => {
                problems.push(only_in(table, "postgres", p));
                continue;
            }
            (None, None) => unreachable!(),
        };
        let items: BTreeSet<&String> = l.keys().chain(p.keys()).collect();
        for item in items {
            if allowed.contains(&(table.as_str(), item.as_str())) {
                continue;
            }
            let (ld, pd) = (l.get(item), p.get(item));
            if ld != pd {
                problems.push(format!(
                    "{table}: {item}: sqlite: {}, postgres: {}",
                    shown(ld),
                    shown(pd)
                ));
            }
        }
    }
    problems
}

/// A table (or a view) on one backend only: said once, not item by item.
fn only_in(table: &str, backend: &str, items: &BTreeMap<String, String>) -> String {
    if table.starts_with("view ") {
        format!("{table}: only in {backend}")
    } else {
        let columns = items.keys().filter(|i| i.starts_with("column ")).count();
        format!("{table}: table only in {backend} ({columns} columns)")
    }
}

/// The common name of a column type. SQLite's declared types are the
/// migrations' words: BIGINT ↔ bigint, INTEGER ↔ integer (int4), except
/// that an `INTEGER PRIMARY KEY` (a rowid alias: 64 bits) stands for
/// PostgreSQL's `BIGINT … IDENTITY`. Anything unknown is named by its
/// backend, so it shows as a difference until mapped here.
fn sql_type(backend: &str, declared: &str, rowid_alias: bool) -> String {
    let d = declared.trim().to_ascii_lowercase();
    let common = match (backend, d.as_str()) {
        ("sqlite", "integer") if rowid_alias => "bigint",
        ("sqlite", "bigint") | ("postgres", "int8") => "bigint",
        ("sqlite", "integer" | "int") | ("postgres", "int4") => "integer",
        ("sqlite", "smallint") | ("postgres", "int2") => "smallint",
        ("sqlite", "text") | ("postgres", "text") => "text",
        ("sqlite", "boolean") | ("postgres", "bool") => "boolean",
        ("sqlite", "double precision" | "double") | ("postgres", "float8") => "double",
        ("sqlite", "real") | ("postgres", "float4") => "real",
        ("sqlite", "blob") | ("postgres", "bytea") => "bytes",
        _ => return format!("{backend} {d}"),
    };
    common.to_string()
}

/// A default as written, without PostgreSQL's casts (`'api'::text`).
fn default_value(raw: &str) -> String {
    let mut d = raw.trim();
    while let Some(i) = d.rfind("::") {
        let cast = &d[i + 2..];
        if cast.is_empty() || !cast.chars().all(|c| c.is_ascii_alphabetic() || c == ' ') {
            break;
        }
        d = &d[..i];
    }
    let d = d.trim();
    let d = d
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(d);
    d.to_ascii_lowercase()
}

fn column(ty: String, nullable: bool, default: Option<String>) -> String {
    let null = if nullable { "null" } else { "not null" };
    match default {
        Some(d) => format!("{ty} {null} default {d}"),
        None => format!("{ty} {null}"),
    }
}

fn index(columns: &[String], unique: bool, partial: bool) -> String {
    let mut d = format!("({})", columns.join(", "));
    if unique {
        d.push_str(" unique");
    }
    if partial {
        d.push_str(" partial");
    }
    d
}

fn foreign_key(ref_columns: &[String], on_delete: &str) -> String {
    format!(
        "({}) on delete {}",
        ref_columns.join(", "),
        on_delete.to_ascii_lowercase()
    )
}

fn put(schema: &mut Schema, table: &str, item: String, desc: String) {
    schema
        .entry(table.to_string())
        .or_default()
        .insert(item, desc);
}

async fn sqlite_schema(p: &sqlx::SqlitePool) -> Result<Schema, sqlx::Error> {
    const TABLES: &str = "FROM sqlite_schema s WHERE s.type = 'table' \
        AND s.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND s.name <> '_sqlx_migrations'";
    let mut schema = Schema::new();

    let tables: Vec<(String, bool)> = sqlx::query_as(&format!(
        "SELECT s.name, s.sql LIKE '%WITHOUT ROWID%' {TABLES}"
    ))
    .fetch_all(p)
    .await?;
    let mut rowid = BTreeMap::new();
    for (t, without_rowid) in &tables {
        schema.entry(t.clone()).or_default();
        rowid.insert(t.clone(), !without_rowid);
    }

    // (table, column, declared type, not null, default, position in the key)
    let cols: Vec<(String, String, String, bool, Option<String>, i64)> = sqlx::query_as(&format!(
        "SELECT s.name, c.name, c.type, c.\"notnull\", c.dflt_value, c.pk \
         FROM sqlite_schema s, pragma_table_info(s.name) c \
         WHERE s.name IN (SELECT s.name {TABLES}) ORDER BY s.name, c.pk, c.cid"
    ))
    .fetch_all(p)
    .await?;
    let mut keys: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (t, c, _, _, _, pk) in &cols {
        if *pk > 0 {
            keys.entry(t).or_default().push(c);
        }
    }
    for (t, c, ty, not_null, dflt, pk) in &cols {
        let rowid_alias = rowid[t]
            && *pk > 0
            && keys[t.as_str()].len() == 1
            && ty.eq_ignore_ascii_case("INTEGER");
        let default = if rowid_alias {
            Some("auto id".to_string())
        } else {
            dflt.as_deref().map(default_value)
        };
        // SQLite lets NULL into a key column not declared NOT NULL (an old
        // quirk kept for compatibility); the key means NOT NULL, as on
        // PostgreSQL, and the migrations say no more than that.
        let nullable = !not_null && *pk == 0;
        put(
            &mut schema,
            t,
            format!("column {c}"),
            column(sql_type("sqlite", ty, rowid_alias), nullable, default),
        );
    }
    for (t, k) in &keys {
        put(
            &mut schema,
            t,
            "primary key".into(),
            format!("({})", k.join(", ")),
        );
    }

    // (table, index, unique, origin: c made by CREATE INDEX, u by UNIQUE,
    // pk by the key; partial, column or NULL for an expression, descending)
    type IndexRow = (String, String, bool, String, bool, Option<String>, bool);
    let rows: Vec<IndexRow> = sqlx::query_as(&format!(
        "SELECT s.name, l.name, l.\"unique\", l.origin, l.partial, x.name, x.\"desc\" \
         FROM sqlite_schema s, pragma_index_list(s.name) l, pragma_index_xinfo(l.name) x \
         WHERE s.name IN (SELECT s.name {TABLES}) AND x.key \
         ORDER BY s.name, l.name, x.seqno"
    ))
    .fetch_all(p)
    .await?;
    let mut indexes: BTreeMap<(String, String), Vec<IndexRow>> = BTreeMap::new();
    for row in rows {
        indexes
            .entry((row.0.clone(), row.1.clone()))
            .or_default()
            .push(row);
    }
    for ((t, i), rows) in indexes {
        let (_, _, unique, origin, partial, _, _) = &rows[0];
        let cols: Vec<String> = rows
            .iter()
            .map(|(.., col, desc)| {
                let col = col.as_deref().unwrap_or("<expression>");
                if *desc {
                    format!("{col} DESC")
                } else {
                    col.to_string()
                }
            })
            .collect();
        match origin.as_str() {
            "c" => put(
                &mut schema,
                &t,
                format!("index {i}"),
                index(&cols, *unique, *partial),
            ),
            "u" => put(
                &mut schema,
                &t,
                format!("unique ({})", cols.join(", ")),
                "constraint".into(),
            ),
            _ => {} // the primary key's, compared as `primary key`
        }
    }

    // (table, key id, referenced table, column, referenced column or NULL
    // for the referenced table's key, ON DELETE)
    type KeyRow = (String, i64, String, String, Option<String>, String);
    let rows: Vec<KeyRow> = sqlx::query_as(&format!(
        "SELECT s.name, f.id, f.\"table\", f.\"from\", f.\"to\", f.on_delete \
         FROM sqlite_schema s, pragma_foreign_key_list(s.name) f \
         WHERE s.name IN (SELECT s.name {TABLES}) ORDER BY s.name, f.id, f.seq"
    ))
    .fetch_all(p)
    .await?;
    let mut fks: BTreeMap<(String, i64), Vec<KeyRow>> = BTreeMap::new();
    for row in rows {
        fks.entry((row.0.clone(), row.1)).or_default().push(row);
    }
    for ((t, _), rows) in fks {
        let (_, _, to_table, _, _, on_delete) = &rows[0];
        let from: Vec<&str> = rows.iter().map(|r| r.3.as_str()).collect();
        let to: Vec<String> = if rows.iter().all(|r| r.4.is_none()) {
            keys.get(to_table.as_str())
                .map(|k| k.iter().map(|c| c.to_string()).collect())
                .unwrap_or_default()
        } else {
            rows.iter()
                .map(|r| r.4.clone().unwrap_or_default())
                .collect()
        };
        put(
            &mut schema,
            &t,
            format!("foreign key ({}) -> {to_table}", from.join(", ")),
            foreign_key(&to, on_delete),
        );
    }

    let others: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT type, name, tbl_name FROM sqlite_schema WHERE type IN ('trigger', 'view')",
    )
    .fetch_all(p)
    .await?;
    for (kind, name, table) in others {
        if kind == "view" {
            schema.entry(format!("view {name}")).or_default();
        } else {
            put(
                &mut schema,
                &table,
                format!("trigger {name}"),
                String::new(),
            );
        }
    }
    Ok(schema)
}

async fn postgres_schema(p: &sqlx::PgPool) -> Result<Schema, sqlx::Error> {
    let mut schema = Schema::new();

    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
         AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(p)
    .await?;
    for (t,) in &tables {
        schema.entry(t.clone()).or_default();
    }

    // (table, column, type, nullable, default, identity)
    let cols: Vec<(String, String, String, bool, Option<String>, bool)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.udt_name::text, \
                c.is_nullable = 'YES', c.column_default::text, c.is_identity = 'YES' \
         FROM information_schema.columns c \
         JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
         AND c.table_name <> '_sqlx_migrations'",
    )
    .fetch_all(p)
    .await?;
    for (t, c, ty, nullable, dflt, identity) in cols {
        let default = if identity || dflt.as_deref().is_some_and(|d| d.starts_with("nextval(")) {
            Some("auto id".to_string())
        } else {
            dflt.as_deref().map(default_value)
        };
        put(
            &mut schema,
            &t,
            format!("column {c}"),
            column(sql_type("postgres", &ty, false), nullable, default),
        );
    }

    // Primary keys and unique constraints: (table, kind, columns in order).
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT r.relname::text, k.contype::text, \
                (SELECT string_agg(a.attname::text, ', ' ORDER BY u.o) \
                 FROM unnest(k.conkey) WITH ORDINALITY u(attnum, o) \
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) \
         FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid \
         WHERE r.relnamespace = current_schema()::regnamespace AND k.contype IN ('p', 'u') \
         AND r.relname <> '_sqlx_migrations'",
    )
    .fetch_all(p)
    .await?;
    for (t, kind, cols) in rows {
        if kind == "p" {
            put(&mut schema, &t, "primary key".into(), format!("({cols})"));
        } else {
            put(
                &mut schema,
                &t,
                format!("unique ({cols})"),
                "constraint".into(),
            );
        }
    }

    // Indexes not behind a constraint: (table, index, unique, partial,
    // key columns in order, an expression as `<expression>`).
    let rows: Vec<(String, String, bool, bool, String)> = sqlx::query_as(
        "SELECT r.relname::text, i.relname::text, x.indisunique, x.indpred IS NOT NULL, \
                (SELECT string_agg(COALESCE(a.attname::text, '<expression>') \
                        || CASE WHEN x.indoption[u.o - 1] & 1 = 1 THEN ' DESC' ELSE '' END, \
                        ', ' ORDER BY u.o) \
                 FROM unnest(x.indkey[0:x.indnkeyatts - 1]) WITH ORDINALITY u(attnum, o) \
                 LEFT JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = u.attnum \
                      AND u.attnum <> 0) \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
         JOIN pg_class r ON r.oid = x.indrelid \
         WHERE r.relnamespace = current_schema()::regnamespace \
         AND r.relname <> '_sqlx_migrations' \
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid \
                         AND k.conrelid = x.indrelid AND k.contype IN ('p', 'u', 'x'))",
    )
    .fetch_all(p)
    .await?;
    for (t, i, unique, partial, cols) in rows {
        let cols: Vec<String> = cols.split(", ").map(str::to_string).collect();
        put(
            &mut schema,
            &t,
            format!("index {i}"),
            index(&cols, unique, partial),
        );
    }

    // Foreign keys: (table, columns, referenced table, referenced columns,
    // ON DELETE in SQLite's words).
    let rows: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "SELECT r.relname::text, \
                (SELECT string_agg(a.attname::text, ', ' ORDER BY u.o) \
                 FROM unnest(k.conkey) WITH ORDINALITY u(attnum, o) \
                 JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = u.attnum), \
                f.relname::text, \
                (SELECT string_agg(a.attname::text, ', ' ORDER BY u.o) \
                 FROM unnest(k.confkey) WITH ORDINALITY u(attnum, o) \
                 JOIN pg_attribute a ON a.attrelid = k.confrelid AND a.attnum = u.attnum), \
                CASE k.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' \
                     WHEN 'c' THEN 'CASCADE' WHEN 'n' THEN 'SET NULL' \
                     WHEN 'd' THEN 'SET DEFAULT' END \
         FROM pg_constraint k JOIN pg_class r ON r.oid = k.conrelid \
         JOIN pg_class f ON f.oid = k.confrelid \
         WHERE r.relnamespace = current_schema()::regnamespace AND k.contype = 'f'",
    )
    .fetch_all(p)
    .await?;
    for (t, from, to_table, to, on_delete) in rows {
        let to: Vec<String> = to.split(", ").map(str::to_string).collect();
        put(
            &mut schema,
            &t,
            format!("foreign key ({from}) -> {to_table}"),
            foreign_key(&to, &on_delete),
        );
    }

    let triggers: Vec<(String, String)> = sqlx::query_as(
        "SELECT r.relname::text, g.tgname::text FROM pg_trigger g \
         JOIN pg_class r ON r.oid = g.tgrelid \
         WHERE r.relnamespace = current_schema()::regnamespace AND NOT g.tgisinternal",
    )
    .fetch_all(p)
    .await?;
    for (t, name) in triggers {
        put(&mut schema, &t, format!("trigger {name}"), String::new());
    }
    let views: Vec<(String,)> = sqlx::query_as(
        "SELECT table_name::text FROM information_schema.views \
         WHERE table_schema = current_schema()",
    )
    .fetch_all(p)
    .await?;
    for (name,) in views {
        schema.entry(format!("view {name}")).or_default();
    }
    Ok(schema)
}
