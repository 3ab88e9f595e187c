//! Helpers for the browser tests: headless Chromium and the demo stack it signs in to.

pub mod browser;
pub mod server;
