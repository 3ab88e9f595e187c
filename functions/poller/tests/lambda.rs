//! The `poller` binary under the Lambda Runtime API emulator, against moto and the 3CX simulator.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use sikurd::domain::{Instance, InstanceName, InstanceStatus, PbxAddress, PbxCredentials, TenantId};
use sikurd::polling::slot_of;
use sikurd_pbx_sim::{Faults, PbxSpec, SimConfig, Simulator};
use sikurd_tests::lambda::{CloudResources, LambdaFunction, sample_event};

const LIMIT: Duration = Duration::from_secs(60);

async fn register(cloud: &CloudResources, sim: &Simulator, tenant: &TenantId, spec: PbxSpec) -> Instance {
    let name = spec.name.clone();
    let admin = spec.admin.clone().unwrap();
    sim.add_pbx(spec).unwrap();
    let address = PbxAddress::parse_url(&sim.base_url_for(&name)).unwrap();
    let mut instance =
        Instance::new(tenant.clone(), InstanceName::parse(&name).unwrap(), address, None, chrono::Utc::now());
    let credentials = PbxCredentials::admin(&admin.username, SecretString::from(admin.password)).unwrap();
    instance.credential_kind = Some(credentials.kind());
    cloud.store.instances.create(&instance).await.unwrap();
    cloud.store.credentials.put(tenant, &instance.id, &credentials).await.unwrap();
    instance
}

#[tokio::test(flavor = "multi_thread")]
async fn the_poller_polls_a_poll_batch_event_records_it_once_and_refuses_other_events() {
    let cloud = CloudResources::create().await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let tenant = TenantId::generate();
    let ok = register(&cloud, &sim, &tenant, PbxSpec::healthy("lambda-ok")).await;
    let refused = register(
        &cloud,
        &sim,
        &tenant,
        PbxSpec::healthy("lambda-badpw").with_faults(Faults { wrong_password: true, ..Faults::default() }),
    )
    .await;

    let binary = Path::new(env!("CARGO_BIN_EXE_poller"));
    let mut function =
        LambdaFunction::start(binary, "poller", &cloud.environment(&[("SIKURD_PBX_TARGETS", "any")])).await;

    let slot = slot_of(chrono::Utc::now());
    let mut event = sample_event("poll-batch.json");
    event["detail"] = json!({
        "slot": slot,
        "targets": [
            { "tenant_id": tenant, "instance_id": ok.id },
            { "tenant_id": tenant, "instance_id": refused.id },
        ],
    });
    let answer = function.invoke(event.clone(), LIMIT).await.response();
    assert_eq!(answer, json!({ "polled": 2, "skipped": 0 }));
    for (instance, status) in [(&ok, InstanceStatus::Ok), (&refused, InstanceStatus::LoginFailing)] {
        let stored = cloud.store.instances.get(&tenant, &instance.id).await.unwrap().unwrap();
        assert_eq!(stored.status, status, "{}", instance.name);
    }

    // EventBridge may deliver twice: the second delivery adds no metric row.
    function.invoke(event, LIMIT).await.response();
    for instance in [&ok, &refused] {
        let rows = cloud.store.metrics.range(&tenant, &instance.id, slot, slot, 10, None).await.unwrap();
        assert_eq!(rows.items.len(), 1, "{}", instance.name);
    }

    let error = function.invoke(sample_event("instance-polled.json"), LIMIT).await.error();
    assert!(error["errorMessage"].as_str().unwrap_or("").contains("not a PollBatch"), "{error}");
    let error = function.invoke(json!({ "detail-type": "PollBatch", "detail": { "slot": 5 } }), LIMIT).await.error();
    assert!(error["errorMessage"].as_str().unwrap_or("").contains("not a PollBatch"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_deployed_poller_refuses_a_3cx_on_a_private_address() {
    let cloud = CloudResources::create().await;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let tenant = TenantId::generate();
    let local = register(&cloud, &sim, &tenant, PbxSpec::healthy("lambda-local")).await;
    let binary = Path::new(env!("CARGO_BIN_EXE_poller"));
    let mut function = LambdaFunction::start(binary, "poller", &cloud.environment(&[])).await;
    let mut event = sample_event("poll-batch.json");
    event["detail"] = json!({
        "slot": slot_of(chrono::Utc::now()),
        "targets": [{ "tenant_id": tenant, "instance_id": local.id }],
    });
    function.invoke(event, LIMIT).await.response();
    let stored = cloud.store.instances.get(&tenant, &local.id).await.unwrap().unwrap();
    assert_eq!(stored.status, InstanceStatus::Unreachable);
    assert_eq!(sim.stats("lambda-local").unwrap().requests_total, 0, "no request reached the 3CX");
}

#[test]
fn a_missing_variable_stops_the_cold_start_and_is_named() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_poller"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("SIKURD_TABLE_NAME is not set"), "{stderr}");
}
