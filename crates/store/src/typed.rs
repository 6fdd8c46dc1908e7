//! The store's edge for the domain's states and kinds: stored as text,
//! read back as `danvan_domain` enums exactly once, when the row is read.
//! A `FromRow` field takes `#[sqlx(try_from = "String")]` (the enum's
//! `TryFrom<String>`); a nullable one `#[sqlx(try_from = "NullableText")]`;
//! a value fetched outside a row struct goes through [`stored`]. An
//! unknown stored value fails the read (`sqlx::Error::ColumnDecode`).

use danvan_domain::UnknownStored;
use sqlx::decode::Decode;
use sqlx::error::BoxDynError;
use sqlx::types::Type;
use sqlx::Database;

/// A nullable text column, read as `Option<E>` for a domain enum `E`.
pub struct NullableText(Option<String>);

impl<'r, DB: Database> Decode<'r, DB> for NullableText
where
    Option<String>: Decode<'r, DB>,
{
    fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(NullableText(<Option<String> as Decode<'r, DB>>::decode(
            value,
        )?))
    }
}

impl<DB: Database> Type<DB> for NullableText
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

macro_rules! nullable {
    ($($t:ty),+ $(,)?) => {$(
        impl TryFrom<NullableText> for Option<$t> {
            type Error = UnknownStored;

            fn try_from(v: NullableText) -> Result<Self, UnknownStored> {
                v.0.map(<$t>::try_from).transpose()
            }
        }
    )+};
}

nullable!(
    danvan_domain::Gender,
    danvan_domain::feedback::FeedbackState,
    danvan_domain::feedback::RelayMethod,
);

/// Parses a stored value fetched outside a row struct (a tuple, a
/// count by state); an unknown one fails like a column that does not
/// decode.
pub(crate) fn stored<T>(column: &str, value: String) -> Result<T, sqlx::Error>
where
    T: TryFrom<String, Error = UnknownStored>,
{
    T::try_from(value).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_string(),
        source: Box::new(e),
    })
}

#[cfg(test)]
mod tests {
    use danvan_domain::{Gender, UnitLevel};
    use sqlx::sqlite::SqlitePoolOptions;

    use super::NullableText;

    #[derive(sqlx::FromRow)]
    struct Row {
        #[sqlx(try_from = "String")]
        level: UnitLevel,
        #[sqlx(try_from = "NullableText")]
        gender: Option<Gender>,
    }

    async fn read(sql: &str) -> Result<Row, sqlx::Error> {
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await?;
        sqlx::query_as::<_, Row>(sql).fetch_one(&pool).await
    }

    #[tokio::test]
    async fn parsed_at_the_edge() {
        let r = read("SELECT 'hamlet' AS level, 'female' AS gender")
            .await
            .unwrap();
        assert_eq!(
            (r.level, r.gender),
            (UnitLevel::Hamlet, Some(Gender::Female))
        );
        let r = read("SELECT 'commune' AS level, NULL AS gender")
            .await
            .unwrap();
        assert_eq!((r.level, r.gender), (UnitLevel::Commune, None));
        // An unknown stored value fails the read, nullable or not; a label
        // `parse` would take is not stored text.
        for sql in [
            "SELECT 'village' AS level, NULL AS gender",
            "SELECT 'Thôn' AS level, NULL AS gender",
            "SELECT 'hamlet' AS level, 'Nữ' AS gender",
        ] {
            let err = read(sql).await.err().expect(sql);
            assert!(
                matches!(err, sqlx::Error::ColumnDecode { .. }),
                "{sql}: {err}"
            );
        }
    }
}
