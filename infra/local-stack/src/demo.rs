//! The demo fleet: simulated 3CX systems, healthy and failing, under a demo tenant.

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use anyhow::Context;
use rand::Rng;
use secrecy::SecretString;
use sikurd::alerts::{ChannelId, Route};
use sikurd::domain::{
    Email, GroupName, Instance, InstanceName, PasswordHash, PbxAddress, PbxCredentials, PersonName, Role, TenantId,
    User, UserId,
};
use sikurd::notify::EmailTarget;
use sikurd::store::{Channel, ChannelKind};
use sikurd_pbx_sim::{Faults, PbxSpec, SimConfig, Simulator};

use crate::stack::LocalStack;

/// (name, group, faults) of each simulated 3CX.
fn fleet() -> Vec<(&'static str, &'static str, Faults)> {
    let ok = Faults::default;
    vec![
        ("hq-main", "Acme Dental", ok()),
        ("hq-branch", "Acme Dental", ok()),
        ("clinic-north", "Northside Clinic", ok()),
        ("clinic-south", "Northside Clinic", Faults { trunk_down: Some("Primary SIP".into()), ..ok() }),
        ("lawfirm", "Baker & Co", ok()),
        ("lawfirm-dr", "Baker & Co", Faults { services_stopped: vec!["3CXQueueManager01".into()], ..ok() }),
        ("hotel-front", "Seaview Hotel", Faults { calls_at_limit: true, ..ok() }),
        ("hotel-annex", "Seaview Hotel", Faults { disk_full: true, ..ok() }),
        ("school", "Riverside School", Faults { licence_expiring_days: Some(6), ..ok() }),
        ("warehouse", "Riverside School", Faults { backup_missing: true, ..ok() }),
        ("garage", "Smith Motors", Faults { wrong_password: true, ..ok() }),
        ("old-office", "Smith Motors", Faults { v18_only: true, ..ok() }),
        ("offline-site", "Smith Motors", Faults { hang: true, ..ok() }),
        ("flaky", "Acme Dental", Faults { server_error: true, ..ok() }),
    ]
}

/// Starts the simulator (HTTPS, with its own CA that the local 3CX client trusts).
pub async fn start_simulator() -> anyhow::Result<Simulator> {
    let sim = Simulator::start(SimConfig::tls()).await.context("cannot start the 3CX simulator")?;
    for (name, _, faults) in fleet() {
        let latency = Faults { latency: Some((20, 120)), ..faults };
        sim.add_pbx(PbxSpec::healthy(name).with_faults(latency))?;
    }
    Ok(sim)
}

/// Makes sure the demo tenant holds one instance per simulated 3CX, at the simulator's current
/// address (its port changes from run to run).
pub async fn seed(stack: &LocalStack, sim: &Simulator, bcrypt_cost: u32) -> anyhow::Result<()> {
    let tenant = stack.local_tenant("demo-tenant", "Demo MSP").await?;
    let mut existing: HashMap<String, Instance> = HashMap::new();
    let mut cursor = None;
    loop {
        let page = stack.store.instances.list(&tenant, 100, cursor).await?;
        existing.extend(page.items.into_iter().map(|i| (i.name.to_string(), i)));
        cursor = page.next;
        if cursor.is_none() {
            break;
        }
    }
    for (name, group, _) in fleet() {
        let address = PbxAddress::parse_url(&sim.base_url_for(name))?;
        let credentials = PbxCredentials::admin("admin", SecretString::from(format!("pw-{name}")))?;
        let instance = match existing.remove(name) {
            Some(mut instance) => {
                instance.address = address;
                instance.deleted_at = None;
                stack.store.instances.save(&instance).await?;
                instance
            }
            None => {
                let mut instance = Instance::new(
                    tenant.clone(),
                    InstanceName::parse(name)?,
                    address,
                    Some(GroupName::parse(group)?),
                    stack.clock.now(),
                );
                instance.credential_kind = Some(credentials.kind());
                stack.store.instances.create(&instance).await?;
                instance
            }
        };
        stack.store.credentials.put(&tenant, &instance.id, &credentials).await?;
    }
    println!("demo: {} simulated 3CX systems under tenant {tenant} ({})", fleet().len(), sim.url());
    let login = ensure_demo_owner(stack, &tenant, bcrypt_cost).await?;
    println!("demo: sign in as {DEMO_EMAIL}; the password is in {}", login.display());
    ensure_demo_notifications(stack, &tenant).await?;
    Ok(())
}

/// A demo tenant without routes gets an e-mail channel to the demo owner and a route of every
/// alert to it, so alert e-mails show up in the outbox.
async fn ensure_demo_notifications(stack: &LocalStack, tenant: &TenantId) -> anyhow::Result<()> {
    if !stack.store.alerts.settings(tenant).await?.routes.is_empty() {
        return Ok(());
    }
    let channel = Channel {
        id: ChannelId::generate(),
        tenant_id: tenant.clone(),
        name: "Demo NOC mailbox".into(),
        kind: ChannelKind::Email { target: EmailTarget::new(vec![Email::parse(DEMO_EMAIL)?])? },
        created_at: stack.clock.now(),
    };
    stack.store.channels.create(&channel).await?;
    let route = Route::new("Everything to the NOC", vec![channel.id.clone()]);
    stack.store.alerts.update_settings(tenant, |s| Ok(s.add_route(route.clone())?)).await?;
    println!("demo: alert e-mails go to {}", stack.data_dir.join("outbox").display());
    Ok(())
}

const DEMO_EMAIL: &str = "demo@sikurd.local";

/// The demo tenant's owner, with a random password written to `<data dir>/demo-login.txt`
/// (mode 0600) on first start.
async fn ensure_demo_owner(stack: &LocalStack, tenant: &TenantId, bcrypt_cost: u32) -> anyhow::Result<PathBuf> {
    let file = stack.data_dir.join("demo-login.txt");
    let email = Email::parse(DEMO_EMAIL)?;
    if stack.store.tenants.find_user_by_email_across_tenants(&email).await?.is_some() && file.exists() {
        return Ok(file);
    }
    let password: String = rand::rng().sample_iter(rand::distr::Alphanumeric).take(20).map(char::from).collect();
    let to_hash = password.clone();
    let hash = tokio::task::spawn_blocking(move || bcrypt::hash(to_hash, bcrypt_cost)).await??;
    let owner = User {
        id: UserId::generate(),
        tenant_id: tenant.clone(),
        name: PersonName::parse("Demo Owner")?,
        email,
        password_hash: PasswordHash::from_bcrypt(hash)?,
        role: Role::Owner,
        created_at: stack.clock.now(),
    };
    match stack.store.tenants.find_user_by_email_across_tenants(&owner.email).await? {
        Some(existing) => {
            let updated = User { password_hash: owner.password_hash, ..existing.clone() };
            stack.store.users.update(&existing.tenant_id, &existing, &updated).await?;
        }
        None => stack.store.users.create(tenant, &owner).await?,
    }
    let mut out = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(&file)?;
    writeln!(out, "{DEMO_EMAIL}\n{password}")?;
    Ok(file)
}
