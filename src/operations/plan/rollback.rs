//! A rollback's item: the object gets its recorded `before` back when it is
//! still as the original operation left it.

use super::{Batch, Object, Outcome, Write};
use crate::db::types::Id;
use crate::error::AppResult;
use crate::operations::model::PROJECT;
use crate::operations::snapshot::{ProjectSnapshot, TaskSnapshot, version_of};

impl Batch<'_> {
    pub(super) fn rollback(&self, entity: &str, id: Id) -> AppResult<Outcome> {
        let Some(record) = self.records.get(&(entity.to_owned(), id)) else {
            return Ok(Outcome::Skip);
        };
        let after_version = record.after.as_ref().and_then(version_of);
        if entity == PROJECT {
            let Some(current) = self.projects.get(&id) else {
                return Ok(Outcome::Skip);
            };
            if Some(current.version) != after_version {
                return Ok(Outcome::Skip);
            }
            let mut next = current.clone();
            match &record.before {
                Some(before) => ProjectSnapshot::parse(before)?.restore(&mut next),
                None => next.deleted_at = next.deleted_at.or(Some(self.now)),
            }
            next.version = current.version + 1;
            return Ok(Outcome::Write(Write {
                current: Some(Object::Project(current.clone())),
                next: Object::Project(next),
            }));
        }
        let Some(current) = self.tasks.get(&id) else {
            return Ok(Outcome::Skip);
        };
        if Some(current.version) != after_version {
            return Ok(Outcome::Skip);
        }
        let mut next = current.clone();
        match &record.before {
            Some(before) => TaskSnapshot::parse(before)?.restore(&mut next)?,
            None => next.deleted_at = next.deleted_at.or(Some(self.now)),
        }
        next.version = current.version + 1;
        Ok(Outcome::Write(Write {
            current: Some(Object::Task(current.clone())),
            next: Object::Task(next),
        }))
    }
}
