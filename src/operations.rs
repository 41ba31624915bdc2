//! Operations (tracked bulk jobs): rows now; the engine follows.

pub mod model;
