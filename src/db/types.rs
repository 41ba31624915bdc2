//! Our own SQL types, one per kind of value whose native type differs between
//! the two backends. `schema.rs` names these, so one schema serves both:
//!
//! | type     | PostgreSQL    | SQLite                                   |
//! |----------|---------------|------------------------------------------|
//! | `DbUuid` | `uuid`        | 16-byte `BLOB`                           |
//! | `DbTime` | `timestamptz` | `INTEGER`, microseconds since the epoch  |
//! | `DbJson` | `jsonb`       | `TEXT` holding JSON                      |
//!
//! The Rust side is three small wrappers, [`Id`], [`Timestamp`] and
//! [`JsonDoc`], that deref to `uuid::Uuid`, `chrono::DateTime<Utc>` and
//! `serde_json::Value`. (Diesel's coherence rules forbid binding a foreign
//! type to a SQL type of ours, so a local wrapper is required.)

use chrono::{DateTime, Utc};
use diesel::deserialize::FromSqlRow;
use diesel::deserialize::{self, FromSql};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::query_builder::QueryId;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{self, SqlType};
use diesel::sqlite::{Sqlite, SqliteValue};
use serde::{Deserialize, Serialize};

/// A UUID: `uuid` on PostgreSQL, a 16-byte BLOB on SQLite.
#[derive(Debug, Clone, Copy, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 2950, array_oid = 2951))]
#[diesel(sqlite_type(name = "Binary"))]
pub struct DbUuid;

/// An instant in UTC: `timestamptz` on PostgreSQL, integer microseconds on SQLite.
#[derive(Debug, Clone, Copy, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 1184, array_oid = 1185))]
#[diesel(sqlite_type(name = "Long"))]
pub struct DbTime;

/// A JSON document: `jsonb` on PostgreSQL, text on SQLite.
#[derive(Debug, Clone, Copy, Default, SqlType, QueryId)]
#[diesel(postgres_type(oid = 3802, array_oid = 3807))]
#[diesel(sqlite_type(name = "Text"))]
pub struct DbJson;

/// An identifier (UUID).
#[derive(AsExpression, FromSqlRow, Serialize, Deserialize)]
#[diesel(sql_type = DbUuid)]
#[serde(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub uuid::Uuid);

impl Id {
    /// A new time-ordered (v7) identifier.
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7())
    }

    /// Parses the textual form, as clients send it.
    pub fn parse(text: &str) -> Option<Self> {
        uuid::Uuid::parse_str(text.trim()).ok().map(Self)
    }
}

/// `Deref` to the wrapped value, and (unless `deref_only`) `From` it.
macro_rules! wraps {
    ($outer:ty, $inner:ty) => {
        wraps!($outer, $inner, deref_only);
        impl From<$inner> for $outer {
            fn from(value: $inner) -> Self {
                Self(value)
            }
        }
    };
    ($outer:ty, $inner:ty, deref_only) => {
        impl std::ops::Deref for $outer {
            type Target = $inner;
            fn deref(&self) -> &$inner {
                &self.0
            }
        }
    };
}

wraps!(Id, uuid::Uuid);

impl std::fmt::Display for Id {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An instant in UTC, kept to the microsecond (what both backends store).
#[derive(AsExpression, FromSqlRow, Serialize, Deserialize)]
#[diesel(sql_type = DbTime)]
#[serde(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Self {
        Utc::now().into()
    }

    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(value: DateTime<Utc>) -> Self {
        let micros = value.timestamp_micros();
        Self(DateTime::from_timestamp_micros(micros).unwrap_or(value))
    }
}

wraps!(Timestamp, DateTime<Utc>, deref_only);

impl std::ops::Add<chrono::Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, rhs: chrono::Duration) -> Timestamp {
        Timestamp(self.0 + rhs)
    }
}

/// A JSON document.
#[derive(Debug, Clone, PartialEq, Default, AsExpression, FromSqlRow, Serialize, Deserialize)]
#[diesel(sql_type = DbJson)]
#[serde(transparent)]
pub struct JsonDoc(pub serde_json::Value);

wraps!(JsonDoc, serde_json::Value);

// ---- PostgreSQL: each wrapper is its native type ----

/// `ToSql`/`FromSql` on PostgreSQL for the wrapper `$wrapper` of `$inner`,
/// through Diesel's own impls for `$native`.
macro_rules! pg_native {
    ($wrapper:ident($inner:ty) as $sql:ty => $native:ty) => {
        impl ToSql<$sql, Pg> for $wrapper {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <$inner as ToSql<$native, Pg>>::to_sql(&self.0, out)
            }
        }

        impl FromSql<$sql, Pg> for $wrapper {
            fn from_sql(bytes: PgValue<'_>) -> deserialize::Result<Self> {
                <$inner as FromSql<$native, Pg>>::from_sql(bytes).map(Self)
            }
        }
    };
}

pg_native!(Id(uuid::Uuid) as DbUuid => sql_types::Uuid);
pg_native!(Timestamp(DateTime<Utc>) as DbTime => sql_types::Timestamptz);
pg_native!(JsonDoc(serde_json::Value) as DbJson => sql_types::Jsonb);

// ---- SQLite: UUID ----

impl ToSql<DbUuid, Sqlite> for Id {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.as_bytes().as_slice());
        Ok(IsNull::No)
    }
}

impl FromSql<DbUuid, Sqlite> for Id {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        // Read in place: every row has its ids, and a copy of each is an
        // allocation.
        Ok(Self(uuid::Uuid::from_slice(value.read_blob())?))
    }
}

// ---- SQLite: time ----

impl ToSql<DbTime, Sqlite> for Timestamp {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.timestamp_micros());
        Ok(IsNull::No)
    }
}

impl FromSql<DbTime, Sqlite> for Timestamp {
    fn from_sql(value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        let micros = <i64 as FromSql<sql_types::BigInt, Sqlite>>::from_sql(value)?;
        DateTime::from_timestamp_micros(micros)
            .map(Self)
            .ok_or_else(|| "timestamp out of range".into())
    }
}

// ---- SQLite: JSON ----

impl ToSql<DbJson, Sqlite> for JsonDoc {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl FromSql<DbJson, Sqlite> for JsonDoc {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(Self(serde_json::from_str(value.read_text())?))
    }
}

// ---- enumerations stored as a code ----

/// An enumeration stored as a `SMALLINT` code. [`stored_code!`] gives it
/// Diesel's `ToSql`/`FromSql` on both backends and serde as the same code; a
/// stored code the enumeration does not know is an error when read, never a
/// default.
pub trait StoredCode: Copy + Sized + 'static {
    /// The name of the enumeration, for the error on an unknown code.
    const KIND: &'static str;
    /// Every value, each with its own code.
    const ALL: &'static [Self];
    /// The code stored for this value.
    fn code(self) -> i16;

    /// The value stored as `code`.
    fn from_code(code: i16) -> Result<Self, UnknownCode> {
        Self::ALL
            .iter()
            .copied()
            .find(|value| value.code() == code)
            .ok_or(UnknownCode {
                kind: Self::KIND,
                code,
            })
    }
}

/// A stored code no value of the enumeration `kind` has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnknownCode {
    pub kind: &'static str,
    pub code: i16,
}

impl std::fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unknown {} code {}", self.kind, self.code)
    }
}

impl std::error::Error for UnknownCode {}

/// Reads a stored code on either backend (the body of the `FromSql` impls).
pub fn read_code<T: StoredCode, DB: diesel::backend::Backend>(
    value: DB::RawValue<'_>,
) -> deserialize::Result<T>
where
    i16: FromSql<sql_types::SmallInt, DB>,
{
    let code = <i16 as FromSql<sql_types::SmallInt, DB>>::from_sql(value)?;
    Ok(T::from_code(code)?)
}

/// Implements Diesel's `ToSql`/`FromSql` on `SmallInt` (both backends) and
/// serde (as the code) for a [`StoredCode`] enumeration, which must derive
/// `AsExpression` and `FromSqlRow` with `#[diesel(sql_type = SmallInt)]`.
#[macro_export]
macro_rules! stored_code {
    ($ty:ty) => {
        impl diesel::serialize::ToSql<diesel::sql_types::SmallInt, diesel::pg::Pg> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                let code = $crate::db::types::StoredCode::code(*self);
                std::io::Write::write_all(out, &code.to_be_bytes())?;
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::SmallInt, diesel::sqlite::Sqlite> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
            ) -> diesel::serialize::Result {
                out.set_value(i32::from($crate::db::types::StoredCode::code(*self)));
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl<DB> diesel::deserialize::FromSql<diesel::sql_types::SmallInt, DB> for $ty
        where
            DB: diesel::backend::Backend,
            i16: diesel::deserialize::FromSql<diesel::sql_types::SmallInt, DB>,
        {
            fn from_sql(value: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                $crate::db::types::read_code::<Self, DB>(value)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i16($crate::db::types::StoredCode::code(*self))
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let code = <i16 as serde::Deserialize>::deserialize(d)?;
                <Self as $crate::db::types::StoredCode>::from_code(code)
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

/// The stored names of a text-mapped enum, and its Diesel mapping (the
/// name as `Text` on both backends; an unknown name fails the read). The
/// enum derives `AsExpression` and `FromSqlRow` with
/// `#[diesel(sql_type = Text)]`; `$what` names it in that error.
#[macro_export]
macro_rules! stored_names {
    (@one $variant:ident) => {
        1
    };
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            pub const ALL: [Self; 0 $(+ $crate::stored_names!(@one $variant))+] = [$(Self::$variant),+];

            /// The name as stored and as GraphQL shows it.
            pub fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }

            pub fn parse(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.name() == name)
            }

            fn from_stored(name: &str) -> ::diesel::deserialize::Result<Self> {
                Self::parse(name)
                    .ok_or_else(|| format!(concat!("unknown ", $what, " `{}`"), name).into())
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $ty {
            fn to_sql<'b>(&'b self, out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::pg::Pg>) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::pg::Pg>>::to_sql(self.name(), out)
            }
        }

        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, ::diesel::sqlite::Sqlite> for $ty {
            fn to_sql<'b>(&'b self, out: &mut ::diesel::serialize::Output<'b, '_, ::diesel::sqlite::Sqlite>) -> ::diesel::serialize::Result {
                out.set_value(self.name());
                Ok(::diesel::serialize::IsNull::No)
            }
        }

        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg> for $ty {
            fn from_sql(bytes: ::diesel::pg::PgValue<'_>) -> ::diesel::deserialize::Result<Self> {
                Self::from_stored(<String as ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::pg::Pg>>::from_sql(bytes)?.as_str())
            }
        }

        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::sqlite::Sqlite> for $ty {
            fn from_sql(value: ::diesel::sqlite::SqliteValue<'_, '_, '_>) -> ::diesel::deserialize::Result<Self> {
                Self::from_stored(<String as ::diesel::deserialize::FromSql<::diesel::sql_types::Text, ::diesel::sqlite::Sqlite>>::from_sql(value)?.as_str())
            }
        }
    };
}
