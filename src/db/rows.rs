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
