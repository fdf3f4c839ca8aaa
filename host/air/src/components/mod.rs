//! AIR components shared by the VM's instruction families (see `DESIGN.md`).

pub mod program;
pub mod range_check;
pub mod state;
