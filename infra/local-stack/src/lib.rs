//! The local stack as a library: the embedded adapters and every function wired in one process
//! ([`stack::LocalStack`]), and the demo fleet ([`demo`]). The `sikurd-local` binary runs it;
//! tests drive it with a manual clock.

pub mod demo;
pub mod downloads;
pub mod stack;
