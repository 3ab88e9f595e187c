//! The demo stack a browser test signs in to (the browser itself is `sikurd_tests::browser`).
// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

pub mod server;
