//! A tenant export in the local stack: the archive lands in the blob directory and its link is
//! served by the stack's HTTP server for as long as it is valid; a tampered link is 404.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use sha2::{Digest, Sha256};
use sikurd::lifecycle::Exporter;
use support::server::DemoServer;

#[tokio::test(flavor = "multi_thread")]
async fn the_export_link_downloads_the_archive_from_the_local_stack() {
    let server = DemoServer::start().await;
    server.poll_once().await;
    let stack = &server.stack;
    let exporter = Exporter::new(stack.store.clone(), stack.blobs.clone(), stack.clock.clone());
    let done = exporter.export(&server.tenant().await, "Ada from support").await.unwrap();
    let instances = done.manifest.files.iter().find(|f| f.name == "instances.jsonl").unwrap();
    assert_eq!(instances.rows, 14, "the demo fleet");
    let key = sikurd::blobs::BlobKey::parse(&done.key).unwrap();
    assert!(stack.blobs.blob_path(&key).starts_with(stack.data_dir.join("blobs")));
    assert!(stack.blobs.blob_path(&key).is_file());

    // The link names the configured address; serve it from the test's server instead.
    let path = done.download_url.split_once("/blobs/").map(|(_, rest)| format!("/blobs/{rest}")).unwrap();
    let response = reqwest::get(format!("{}{path}", server.url)).await.unwrap();
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert!(disposition.contains(".zip"), "{disposition}");
    let archive = response.bytes().await.unwrap();
    assert_eq!(hex::encode(Sha256::digest(&archive)), done.sha256);

    let tampered = path.replace("signature=", "signature=00");
    assert_eq!(reqwest::get(format!("{}{tampered}", server.url)).await.unwrap().status(), 404);
    let unsigned = path.split('?').next().unwrap().to_owned();
    assert_eq!(reqwest::get(format!("{}{unsigned}", server.url)).await.unwrap().status(), 404);
}
