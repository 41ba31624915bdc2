//! The change counter: one row per owner, bumped in every writing
//! transaction; its value is the `seq` of the rows written.

use diesel::prelude::*;

use crate::db::schema::change_counters;
use crate::db::types::Id;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = change_counters)]
pub struct ChangeCounterRow {
    pub owner_id: Id,
    pub value: i64,
}
