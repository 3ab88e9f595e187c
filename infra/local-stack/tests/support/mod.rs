//! The demo stack a browser test signs in to (the browser itself is `sikurd_tests::browser`).

pub mod server;
