//! One connection (usually a transaction's) of either backend, so a writer
//! is a plain `async fn` with one signature rather than a macro expanded
//! into every caller.
//!
//! A writer takes `impl Into<Conn<'c>>`: inside an [`in_tx!`](crate::in_tx)
//! body the caller passes `&mut *tx`, which is a `&mut SqliteConnection` in
//! one expansion and a `&mut PgConnection` in the other. The writer's body
//! is expanded once per backend by [`on_conn!`](crate::on_conn), the same
//! SQL text for both.

use sqlx::{PgConnection, SqliteConnection};

/// A borrowed connection of one backend.
pub enum Conn<'c> {
    Sqlite(&'c mut SqliteConnection),
    Postgres(&'c mut PgConnection),
}

impl Conn<'_> {
    /// The same connection for one more call, keeping this one for later.
    pub fn reborrow(&mut self) -> Conn<'_> {
        match self {
            Conn::Sqlite(c) => Conn::Sqlite(c),
            Conn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

impl<'c> From<&'c mut SqliteConnection> for Conn<'c> {
    fn from(c: &'c mut SqliteConnection) -> Self {
        Conn::Sqlite(c)
    }
}

impl<'c> From<&'c mut PgConnection> for Conn<'c> {
    fn from(c: &'c mut PgConnection) -> Self {
        Conn::Postgres(c)
    }
}

/// Runs `$body` with `$c` bound to the backend's `&mut` connection.
#[macro_export]
macro_rules! on_conn {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::conn::Conn::Sqlite($c) => $body,
            $crate::conn::Conn::Postgres($c) => $body,
        }
    };
}

impl Conn<'_> {
    /// The `VALUES` of `rows` rows, each `row` with `?` for each of its
    /// parameters (and any constants), e.g. `('sms', ?, ?)`: as written
    /// on SQLite, where sqlx finds each `$N` by a linear scan of the
    /// statement (quadratic in a multi-row INSERT, see the import), and
    /// numbered from `$1` on PostgreSQL.
    pub fn values(&self, row: &str, rows: usize) -> String {
        self.values_from(row, rows, 1)
    }

    /// [`values`](Self::values) after `first - 1` parameters of the
    /// statement's own (numbered from `$first` on PostgreSQL).
    pub fn values_from(&self, row: &str, rows: usize, first: usize) -> String {
        match self {
            Conn::Sqlite(_) => vec![row; rows].join(", "),
            Conn::Postgres(_) => numbered(row, rows, first),
        }
    }

    /// The placeholder of a statement's `n`th parameter.
    pub fn param(&self, n: usize) -> String {
        match self {
            Conn::Sqlite(_) => "?".to_string(),
            Conn::Postgres(_) => format!("${n}"),
        }
    }
}

/// `($1, $2), ($3, $4)` for `(?, ?)` twice from 1.
fn numbered(row: &str, rows: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * (row.len() + 16));
    let mut n = first - 1;
    for i in 0..rows {
        if i > 0 {
            out.push_str(", ");
        }
        for ch in row.chars() {
            if ch == '?' {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            } else {
                out.push(ch);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_number_every_parameter() {
        assert_eq!(
            super::numbered("('sms', ?, ?)", 2, 1),
            "('sms', $1, $2), ('sms', $3, $4)"
        );
        assert_eq!(super::numbered("(?)", 0, 1), "");
        assert_eq!(super::numbered("(?, ?)", 1, 2), "($2, $3)");
    }
}
