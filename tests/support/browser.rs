//! Headless Chromium driven over the DevTools protocol (`chromiumoxide`), for browser tests.
//!
//! [`Browser::launch`] starts Debian's `chromium` (`--headless=new --no-sandbox --disable-gpu`,
//! a fresh profile in a temporary directory, a 1280x800 window); [`Page`] waits for selectors,
//! clicks, types, reads text and saves screenshots to `<target>/screenshots/<test>-<step>.png`.
//! Every failure panics with what was awaited, the page's address and the page's text. Dropping
//! the browser closes it (and removes its profile). Tests need a multi-threaded Tokio runtime
//! (`#[tokio::test(flavor = "multi_thread")]`): the browser is closed synchronously on drop.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chromiumoxide::BrowserConfig;
use chromiumoxide::cdp::browser_protocol::browser::{SetDownloadBehaviorBehavior, SetDownloadBehaviorParams};
use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::page::ScreenshotParams;
use futures_util::StreamExt;
use serde_json::Value;
use tempfile::TempDir;
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::task::JoinHandle;

/// How long [`Page`] waits for a selector or a condition (2 cores running several browsers and
/// the stack at once are slow).
pub const WAIT: Duration = Duration::from_secs(20);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(100);
/// How long one DevTools call may take before it counts as failed (a call can otherwise wait
/// for ever, e.g. on a navigation that chromiumoxide never sees finish).
const CALL: Duration = Duration::from_secs(5);
/// Set on a document before navigating away from it: gone once the next document is loaded.
const OLD_DOCUMENT: &str = "window.__sikurdTestOldDocument";
/// How much of the page's text a failure message quotes.
const TEXT_IN_FAILURES: usize = 3000;

/// A running headless Chromium with one tab; closed on drop.
pub struct Browser {
    browser: Option<chromiumoxide::Browser>,
    handler: JoinHandle<()>,
    test: String,
    // Removed after the browser has exited (fields drop after `Drop::drop`).
    _profile: TempDir,
}

/// A tab, for one test's steps.
#[derive(Clone)]
pub struct Page {
    page: chromiumoxide::Page,
    test: String,
}

/// `chromium` on `PATH`; a failing test (never a skipped one) when it is missing.
fn chromium() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("chromium")).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!(
            "chromium is not installed (no `chromium` on PATH): run infra/scripts/test, which installs \
             Debian's chromium, or `apt-get install -y --no-install-recommends chromium`"
        )
    })
}

/// `<target dir>/screenshots`: `CARGO_TARGET_DIR` if set (relative to the workspace), else
/// `<workspace>/target`.
pub fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("the workspace holds this package");
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| workspace.join("target"), |t| workspace.join(t));
    target.join("screenshots")
}

impl Browser {
    /// Starts headless Chromium for the test named `test` (the screenshots' prefix).
    pub async fn launch(test: &str) -> Self {
        let executable = chromium();
        let profile = tempfile::tempdir().expect("a temporary profile directory");
        let config = BrowserConfig::builder()
            .chrome_executable(&executable)
            .new_headless_mode()
            .no_sandbox()
            .arg("disable-gpu")
            .user_data_dir(profile.path())
            .window_size(1280, 800)
            .viewport(None)
            .launch_timeout(Duration::from_secs(60))
            .request_timeout(WAIT)
            .build()
            .expect("a valid browser configuration");
        let (browser, mut events) = chromiumoxide::Browser::launch(config)
            .await
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", executable.display()));
        // The handler drives the connection; a message it cannot parse is not fatal.
        let handler = tokio::spawn(async move { while events.next().await.is_some() {} });
        Self { browser: Some(browser), handler, test: test.to_owned(), _profile: profile }
    }

    /// Opens `url` in a new tab and waits for it to load.
    pub async fn open(&self, url: &str) -> Page {
        let browser = self.browser.as_ref().expect("the browser is running");
        // A blank tab, then a navigation from script: chromiumoxide's own wait for a
        // navigation to finish sometimes never returns with this Chromium.
        let page = match tokio::time::timeout(WAIT, browser.new_page("about:blank")).await {
            Ok(Ok(page)) => page,
            Ok(Err(e)) => panic!("[{}] Chromium did not open a tab: {e}", self.test),
            Err(_) => panic!("[{}] Chromium did not open a tab within {} s", self.test, WAIT.as_secs()),
        };
        let page = Page { page, test: self.test.clone() };
        page.goto(url).await;
        page
    }
}

impl Browser {
    /// Saves every download to `dir` under the name the page gives it, without asking.
    pub async fn download_to(&self, dir: &Path) {
        let browser = self.browser.as_ref().expect("the browser is running");
        let params = SetDownloadBehaviorParams::builder()
            .behavior(SetDownloadBehaviorBehavior::Allow)
            .download_path(dir.display().to_string())
            .build()
            .expect("valid download settings");
        if let Err(e) = within(browser.execute(params)).await {
            panic!("[{}] cannot allow downloads: {e}", self.test);
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(mut browser) = self.browser.take() {
            let close = async move {
                let closed = tokio::time::timeout(Duration::from_secs(5), async {
                    let _ = browser.close().await;
                    let _ = browser.wait().await;
                })
                .await;
                if closed.is_err() {
                    let _ = browser.kill().await;
                }
            };
            // Otherwise the child is killed on drop (`kill_on_drop`) and reaped by Tokio.
            if let Ok(runtime) = Handle::try_current()
                && runtime.runtime_flavor() == RuntimeFlavor::MultiThread
            {
                tokio::task::block_in_place(|| runtime.block_on(close));
            }
        }
        self.handler.abort();
    }
}

/// `call`'s result, or a timeout error after [`CALL`].
async fn within<T>(call: impl Future<Output = chromiumoxide::Result<T>>) -> chromiumoxide::Result<T> {
    tokio::time::timeout(CALL, call).await.unwrap_or(Err(chromiumoxide::error::CdpError::Timeout))
}

/// `s` as a JavaScript string literal.
fn js_string(s: &str) -> String {
    Value::from(s).to_string()
}

impl Page {
    /// Evaluates a JavaScript expression (awaiting a promise) and returns its JSON value, or the
    /// error (an exception, or no page to evaluate in during a navigation).
    async fn try_eval(&self, expression: &str) -> Result<Value, String> {
        let result = tokio::time::timeout(CALL, self.page.evaluate_expression(expression))
            .await
            .map_err(|_| format!("no answer within {} s", CALL.as_secs()))?
            .map_err(|e| e.to_string())?;
        Ok(result.value().cloned().unwrap_or(Value::Null))
    }

    /// Runs `navigate` (script that leaves the current document) and waits until the next
    /// document has loaded.
    async fn navigate(&self, navigate: &str, what: &str) {
        self.eval(&format!("{OLD_DOCUMENT} = true; {navigate}; true")).await;
        let loaded = format!("!{OLD_DOCUMENT} && document.readyState === 'complete'");
        self.wait_until(&loaded, what).await;
    }

    /// Goes to `url` and waits for it to load.
    pub async fn goto(&self, url: &str) {
        self.navigate(&format!("location.href = {}", js_string(url)), &format!("{url} to load")).await;
    }

    /// Goes to `#<route>` of the current document (the dashboard's own navigation: no load).
    pub async fn go(&self, hash: &str) {
        self.eval(&format!("location.hash = {}; true", js_string(hash))).await;
    }

    /// Evaluates a JavaScript expression and returns its JSON value; panics on an exception.
    pub async fn eval(&self, expression: &str) -> Value {
        match self.try_eval(expression).await {
            Ok(value) => value,
            Err(e) => panic!("{} failed: {e}\n{}", expression, self.describe().await),
        }
    }

    /// The page's address now.
    pub async fn url(&self) -> String {
        match self.try_eval("location.href").await {
            Ok(Value::String(url)) => url,
            _ => self.page.url().await.ok().flatten().unwrap_or_else(|| "(unknown address)".into()),
        }
    }

    /// The page's visible text (`document.body.innerText`).
    pub async fn body_text(&self) -> String {
        match self.try_eval("document.body ? document.body.innerText : ''").await {
            Ok(Value::String(text)) => text,
            other => format!("(no text: {other:?})"),
        }
    }

    /// Where the page is and what it says, for failure messages.
    async fn describe(&self) -> String {
        let text = self.body_text().await;
        let text = match text.char_indices().nth(TEXT_IN_FAILURES) {
            Some((cut, _)) => format!("{}\n[... cut]", &text[..cut]),
            None => text,
        };
        format!("page: {}\npage text:\n{text}", self.url().await)
    }

    /// Waits until the JavaScript expression `condition` is truthy; on timeout panics naming
    /// `what`, the page's address and its text.
    pub async fn wait_until(&self, condition: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            let last = match self.try_eval(&format!("!!({condition})")).await {
                Ok(Value::Bool(true)) => return,
                Ok(other) => format!("{other}"),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!(
                    "[{}] timed out after {} s waiting for {what} (last: {last})\n{}",
                    self.test,
                    WAIT.as_secs(),
                    self.describe().await
                );
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until an element matching `selector` is present and visible.
    pub async fn wait_for(&self, selector: &str) {
        let condition = format!(
            "(() => {{ const e = document.querySelector({}); return e && e.checkVisibility(); }})()",
            js_string(selector)
        );
        self.wait_until(&condition, &format!("`{selector}` to be visible")).await;
    }

    /// Waits until no element matching `selector` is visible (absent or hidden).
    pub async fn wait_for_none(&self, selector: &str) {
        let condition =
            format!("[...document.querySelectorAll({})].every(e => !e.checkVisibility())", js_string(selector));
        self.wait_until(&condition, &format!("no `{selector}` to be visible")).await;
    }

    /// Waits until exactly `count` elements match `selector`.
    pub async fn wait_for_count(&self, selector: &str, count: usize) {
        let condition = format!("document.querySelectorAll({}).length === {count}", js_string(selector));
        self.wait_until(&condition, &format!("{count} elements matching `{selector}`")).await;
    }

    /// Waits until the element matching `selector` shows some text, and returns it.
    pub async fn wait_for_text(&self, selector: &str) -> String {
        let condition = format!(
            "(() => {{ const e = document.querySelector({}); return e && e.checkVisibility() && e.innerText.trim() !== ''; }})()",
            js_string(selector)
        );
        self.wait_until(&condition, &format!("`{selector}` to show text")).await;
        self.text(selector).await
    }

    /// How many elements match `selector` now.
    pub async fn count(&self, selector: &str) -> usize {
        let value = self.eval(&format!("document.querySelectorAll({}).length", js_string(selector))).await;
        value.as_u64().and_then(|n| usize::try_from(n).ok()).unwrap_or(0)
    }

    /// The visible text of the first element matching `selector` (after waiting for it).
    pub async fn text(&self, selector: &str) -> String {
        self.wait_for(selector).await;
        let value = self.eval(&format!("document.querySelector({}).innerText", js_string(selector))).await;
        value.as_str().unwrap_or_default().to_owned()
    }

    async fn element(&self, selector: &str) -> chromiumoxide::Element {
        self.wait_for(selector).await;
        match within(self.page.find_element(selector)).await {
            Ok(element) => element,
            Err(e) => panic!("[{}] cannot find `{selector}`: {e}\n{}", self.test, self.describe().await),
        }
    }

    /// Clicks the middle of the element matching `selector` with the mouse, once it is visible.
    pub async fn click(&self, selector: &str) {
        let element = self.element(selector).await;
        if let Err(e) = within(element.click()).await {
            panic!("[{}] cannot click `{selector}`: {e}\n{}", self.test, self.describe().await);
        }
    }

    /// Empties the field matching `selector`, then types `text` into it key by key.
    pub async fn fill(&self, selector: &str, text: &str) {
        let element = self.element(selector).await;
        self.eval(&format!("document.querySelector({}).value = ''", js_string(selector))).await;
        let typed = async {
            element.focus().await?;
            element.type_str(text).await
        };
        if let Err(e) = within(typed).await {
            panic!("[{}] cannot type into `{selector}`: {e}\n{}", self.test, self.describe().await);
        }
    }

    /// Chooses `value` in the `<select>` matching `selector`, as a user would (a `change` event).
    pub async fn select(&self, selector: &str, value: &str) {
        self.wait_for(selector).await;
        let chosen = self
            .eval(&format!(
                "(() => {{ const s = document.querySelector({}); s.value = {}; \
                 s.dispatchEvent(new Event('change', {{ bubbles: true }})); return s.value; }})()",
                js_string(selector),
                js_string(value)
            ))
            .await;
        assert_eq!(chosen, Value::from(value), "[{}] `{selector}` has no option {value:?}", self.test);
    }

    /// Presses `key` (e.g. `Backspace`, `Enter`) on the element matching `selector`, as real
    /// keyboard input.
    pub async fn press(&self, selector: &str, key: &str) {
        let element = self.element(selector).await;
        let pressed = async {
            element.focus().await?;
            element.press_key(key).await
        };
        if let Err(e) = within(pressed).await {
            panic!("[{}] cannot press {key} on `{selector}`: {e}\n{}", self.test, self.describe().await);
        }
    }

    /// Shows the page as a phone or a laptop would: a `width` x `height` CSS-pixel viewport, and
    /// a touch screen's device scale factor when `mobile`.
    pub async fn resize(&self, width: i64, height: i64, mobile: bool) {
        let params = SetDeviceMetricsOverrideParams::new(width, height, if mobile { 2.0 } else { 1.0 }, mobile);
        if let Err(e) = within(self.page.execute(params)).await {
            panic!("[{}] cannot resize the viewport: {e}", self.test);
        }
    }

    /// Runs `script` in every document this tab loads from now on, before the page's own scripts.
    pub async fn on_new_document(&self, script: &str) {
        if let Err(e) = within(self.page.evaluate_on_new_document(script)).await {
            panic!("[{}] cannot add a script to new documents: {e}", self.test);
        }
    }

    /// Reloads the page and waits for it to load.
    pub async fn reload(&self) {
        self.navigate("location.reload()", "the page to load again").await;
    }

    /// Saves the whole page as `<target>/screenshots/<test>-<step>.png` and returns the path.
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let path = dir.join(format!("{}-{step}.png", self.test));
        let params = ScreenshotParams::builder().full_page(true).build();
        if let Err(e) = within(self.page.save_screenshot(params, &path)).await {
            panic!("[{}] cannot save {}: {e}\n{}", self.test, path.display(), self.describe().await);
        }
        println!("screenshot: {}", path.display());
        path
    }
}
