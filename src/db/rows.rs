//! The two statements every owned, versioned row (projects, tasks) is
//! written with, written once for all of them: the insert, where an id in
//! use is BAD_USER_INPUT, and the conditional update, which lands only over
//! the stored version given. Macros, because Diesel's table types differ
//! per table; each expands inside the caller's store function.

/// Inserts `$row` (a `&$Row`) into `$table`, returning the stored `$Row`;
/// an id already in use is BAD_USER_INPUT on `$field`.
#[macro_export]
macro_rules! insert_row {
    ($conn:expr, $table:ident, $row:expr, $Row:ty, $field:expr) => {
        $crate::db_run!($conn, |c| {
            diesel::insert_into($table::table)
                .values($row)
                .returning(<$Row>::as_returning())
                .get_result(c)
                .await
        })
        .map_err(|err| {
            $crate::error::AppError::unique_as(err, $field, "is already in use; choose another id")
        })
    };
}

/// Writes `$row` (a `&$Row`, its update form) over the stored row of the
/// same id if that is still at `$base` version and `$guard` (the viewer's
/// write access, from `crate::access`) holds for it; `None` when not.
#[macro_export]
macro_rules! update_versioned_row {
    ($conn:expr, $table:ident, $row:expr, $Row:ty, $guard:expr, $base:expr) => {
        $crate::db_run!($conn, |c| {
            diesel::update(
                $table::table
                    .filter($table::id.eq($row.id))
                    .filter($guard)
                    .filter($table::version.eq($base)),
            )
            .set($row)
            .returning(<$Row>::as_returning())
            .get_result(c)
            .await
            .optional()
        })
        .map_err($crate::error::AppError::from)
    };
}

/// One column of a row read by a statement: at `at` when the statement
/// has it there (the column list that `read_by_position!` gives), else found
/// by `name`. Finding a column by name compares it with every column
/// before it, for every row; on a page of tasks that was a quarter of the
/// work of reading it.
pub fn column<'a, ST, T, DB>(
    row: &impl diesel::row::NamedRow<'a, DB>,
    at: usize,
    name: &str,
) -> diesel::deserialize::Result<T>
where
    DB: diesel::backend::Backend,
    T: diesel::deserialize::FromSql<ST, DB>,
{
    use diesel::row::{Field, Row};
    let field = match Row::get(row, at) {
        Some(field) if field.field_name() == Some(name) => field,
        _ => Row::get(row, name).ok_or_else(|| format!("Column `{name}` is not in the row"))?,
    };
    T::from_nullable_sql(field.value())
}

/// One column of a row read by a statement that may leave columns out: the
/// column at `at` when it is `name` (then `at` moves past it), else the
/// type's default, as for a column the statement did not select.
pub fn present_column<'a, ST, T, DB>(
    row: &impl diesel::row::NamedRow<'a, DB>,
    at: &mut usize,
    name: &str,
) -> diesel::deserialize::Result<T>
where
    DB: diesel::backend::Backend,
    T: diesel::deserialize::FromSql<ST, DB> + Default,
{
    use diesel::row::{Field, Row};
    match Row::get(row, *at) {
        Some(field) if field.field_name() == Some(name) => {
            *at += 1;
            T::from_nullable_sql(field.value())
        }
        _ => Ok(T::default()),
    }
}

/// A row read from a statement that selects some of its columns, in the
/// order of its column list, and leaves the others out (a listing that reads
/// only what its selection shows): a column left out holds its type's
/// default. Also gives how many columns it read, for what the statement
/// selects after them.
pub trait ReadPresent<DB: diesel::backend::Backend>: Sized {
    fn build_present<'a>(
        row: &impl diesel::row::NamedRow<'a, DB>,
    ) -> diesel::deserialize::Result<(Self, usize)>;
}

/// `QueryableByName` for `$Row`, whose fields are the columns of `$table`
/// of the same names, read by position when the statement selects them in
/// the field order (`$Row::COLUMNS`, which it also defines), and by name
/// otherwise; and [`ReadPresent`], for a statement that selects some of
/// them in that order.
#[macro_export]
macro_rules! read_by_position {
    ($Row:ty, $table:ident, [$($field:ident),+ $(,)?]) => {
        impl $Row {
            /// The columns, in the order the row reads them fastest.
            pub const COLUMNS: &'static [&'static str] = &[$(stringify!($field)),+];
        }
        $crate::read_by_position!(@backend diesel::pg::Pg, $Row, $table, [$($field),+]);
        $crate::read_by_position!(@backend diesel::sqlite::Sqlite, $Row, $table, [$($field),+]);
    };
    (@backend $DB:ty, $Row:ty, $table:ident, [$($field:ident),+]) => {
        impl diesel::deserialize::QueryableByName<$DB> for $Row {
            fn build<'a>(
                row: &impl diesel::row::NamedRow<'a, $DB>,
            ) -> diesel::deserialize::Result<Self> {
                let mut at = 0usize;
                let read = Self {
                    $($field: {
                        let value = $crate::db::rows::column::<
                            diesel::dsl::SqlTypeOf<$table::$field>,
                            _,
                            $DB,
                        >(row, at, stringify!($field))?;
                        at += 1;
                        value
                    },)+
                };
                debug_assert_eq!(at, Self::COLUMNS.len());
                Ok(read)
            }
        }
        impl $crate::db::rows::ReadPresent<$DB> for $Row {
            fn build_present<'a>(
                row: &impl diesel::row::NamedRow<'a, $DB>,
            ) -> diesel::deserialize::Result<(Self, usize)> {
                let mut at = 0usize;
                let read = Self {
                    $($field: $crate::db::rows::present_column::<
                        diesel::dsl::SqlTypeOf<$table::$field>,
                        _,
                        $DB,
                    >(row, &mut at, stringify!($field))?,)+
                };
                Ok((read, at))
            }
        }
    };
}
