//! A local HTTP server that records what it receives and answers with a fixed status, standing
//! in for webhook receivers and SendGrid.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode, Uri};
use tokio::sync::Mutex;

#[derive(Clone, Debug)]
pub(super) struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> String {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    }
}

pub(super) struct FakeServer {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl FakeServer {
    pub async fn start(status: StatusCode, answer: &'static str) -> Self {
        Self::start_owned(status, answer.to_owned()).await
    }

    pub async fn start_owned(status: StatusCode, answer: String) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&requests);
        let app = Router::new().fallback(move |uri: Uri, headers: HeaderMap, body: Bytes| {
            let (kept, answer) = (Arc::clone(&kept), answer.clone());
            async move {
                kept.lock().await.push(Recorded { path: uri.path().to_owned(), headers, body: body.to_vec() });
                (status, answer)
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { addr, requests }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().await.clone()
    }

    pub async fn only_request(&self) -> Recorded {
        let requests = self.requests().await;
        assert_eq!(requests.len(), 1, "expected one request");
        requests.into_iter().next().unwrap()
    }
}

/// A local port nothing listens on.
pub(super) async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap().port()
}
