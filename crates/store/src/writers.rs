//! Who writes each table: one module per table, so a new column is an edit
//! in one place and every path (a page, the API, SMS, the sweep) goes
//! through the same statement. The test below reads the store's sources
//! and fails when a second module starts writing a table.

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::path::{Path, PathBuf};

    /// Tables still written from more than one module, and why. Each entry
    /// is a debt to pay, not a pattern to follow.
    const SHARED: &[(&str, &[&str], &str)] = &[
        (
            "households",
            &["registry/household.rs", "registry/import.rs"],
            "the import's multi-row upsert, tuned for a province's file",
        ),
        // Benchmark only: the bulk loader of a million synthetic reports.
        (
            "feedback",
            &["feedback/bulk.rs", "feedback/write.rs"],
            "bench",
        ),
        (
            "feedback_counts",
            &["feedback/bulk.rs", "feedback/write.rs"],
            "bench",
        ),
    ];

    fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                sources(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    /// The tables a line writes: `INSERT INTO t`, `UPDATE t`, `DELETE FROM
    /// t`; a table named at run time (`UPDATE {table}`) is written as `{`,
    /// which no module may do: the test could not tell who writes it.
    fn written(line: &str) -> Vec<String> {
        let mut tables = Vec::new();
        for verb in ["INSERT INTO ", "UPDATE ", "DELETE FROM "] {
            for (i, _) in line.match_indices(verb) {
                let rest = &line[i + verb.len()..];
                if rest.starts_with('{') {
                    tables.push("{".to_string());
                    continue;
                }
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    tables.push(name);
                }
            }
        }
        tables
    }

    #[test]
    fn every_table_has_one_writer() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&root, &mut files);
        assert!(files.len() > 20, "the store's sources were read");
        let mut writers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for file in &files {
            let rel = file
                .strip_prefix(&root)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            if rel == "writers.rs" {
                continue;
            }
            let text = std::fs::read_to_string(file).unwrap_or_default();
            for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
                for table in written(line) {
                    writers.entry(table).or_default().insert(rel.clone());
                }
            }
        }
        for must in ["outbox", "feedback", "feedback_rollup", "notifications"] {
            assert!(writers.contains_key(must), "{must} is written somewhere");
        }
        let mut wrong = Vec::new();
        if let Some(modules) = writers.remove("{") {
            wrong.push(format!(
                "a table named at run time is written in {modules:?}: write the name out"
            ));
        }
        for (table, modules) in &writers {
            let allowed: Option<BTreeSet<String>> = SHARED
                .iter()
                .find(|(t, _, _)| t == table)
                .map(|(_, m, _)| m.iter().map(|s| s.to_string()).collect());
            match allowed {
                Some(allowed) if modules == &allowed => {}
                Some(allowed) => wrong.push(format!(
                    "{table}: written by {modules:?}; the list says {allowed:?} (update it, or better, shrink it)"
                )),
                None if modules.len() > 1 => {
                    wrong.push(format!("{table}: written by {modules:?}; keep one writer"))
                }
                None => {}
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_second_writer_is_found() {
        assert_eq!(
            written("sqlx::query(\"UPDATE outbox SET state = $1\")"),
            ["outbox"]
        );
        assert_eq!(
            written("INSERT INTO feedback_rollup (unit_id) SELECT 1; DELETE FROM notifications"),
            ["feedback_rollup", "notifications"]
        );
        assert_eq!(written("format!(\"UPDATE {table} SET path = $1\")"), ["{"]);
    }
}
