//! The local stack in this process with the demo fleet, its API (and dashboard) served over
//! HTTP on a free loopback port: what a browser test signs in to.

use std::net::SocketAddr;

use sikurd::config::{ApiConfig, Deployment, Env};
use sikurd::domain::{Email, Instance, InstanceName, PasswordHash, PbxAddress, PersonName, Role, User, UserId};
use sikurd_local::demo;
use sikurd_local::stack::LocalStack;
use sikurd_pbx_sim::Simulator;
use tempfile::TempDir;
use tokio::task::JoinHandle;

/// How many simulated 3CX systems the demo seeds.
pub const DEMO_INSTANCES: usize = 14;

/// The demo stack, served at [`DemoServer::url`]; stopped on drop.
pub struct DemoServer {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub url: String,
    /// The demo owner's sign-in.
    pub email: String,
    pub password: String,
    pub stack: LocalStack,
    /// The simulated 3CX systems the demo instances point at.
    pub simulator: Simulator,
    server: JoinHandle<()>,
    _data: TempDir,
}

impl DemoServer {
    /// Starts the simulated fleet, seeds the demo tenant and its owner in a fresh data directory
    /// and serves the API router. Nothing is polled yet: see [`Self::poll_once`].
    pub async fn start() -> Self {
        let data = tempfile::tempdir().expect("a temporary data directory");
        let simulator = demo::start_simulator().await.expect("the demo fleet starts");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free loopback port");
        let url = format!("http://{}", listener.local_addr().expect("a bound address"));
        let certificates = simulator.ca_pem().into_iter().collect();
        let stack = LocalStack::open(data.path(), certificates, Some(url.clone())).expect("the local stack opens");
        // The lowest bcrypt cost: signing in is not what these tests measure.
        let config = ApiConfig::from_env(&Env::from_pairs([("SIKURD_BCRYPT_COST", "4")]), Deployment::Local)
            .expect("a valid API configuration");
        demo::seed(&stack, &simulator, config.bcrypt_cost).await.expect("the demo tenant is seeded");
        let login = std::fs::read_to_string(data.path().join("demo-login.txt")).expect("the demo login file");
        let mut lines = login.lines();
        let email = lines.next().expect("the demo e-mail").to_owned();
        let password = lines.next().expect("the demo password").to_owned();

        let app = stack.app(config);
        let server = tokio::spawn(async move {
            axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
                .await
                .expect("the API server runs");
        });
        Self { url, email, password, stack, simulator, server, _data: data }
    }

    /// Runs one scheduler tick and waits until every poll and alert evaluation it caused has
    /// been handled, so every demo instance has a status and a snapshot.
    pub async fn poll_once(&self) {
        let report = self.stack.scheduler.tick(self.stack.clock.now()).await.expect("the scheduler ticks");
        assert_eq!(report.instances, DEMO_INSTANCES, "the tick scheduled the whole demo fleet");
        self.stack.bus.idle().await;
        assert!(self.stack.bus.dead_letters().is_empty(), "{:?}", self.stack.bus.dead_letters());
    }
}

impl DemoServer {
    /// Adds `count` never-polled instances named `extra-000`, `extra-001`, … to the demo tenant.
    pub async fn add_instances(&self, count: usize) {
        let tenant = self.tenant().await;
        for i in 0..count {
            let instance = Instance::new(
                tenant.clone(),
                InstanceName::parse(&format!("extra-{i:03}")).expect("a valid name"),
                PbxAddress::parse_url(&format!("https://extra-{i:03}.example.net")).expect("a valid address"),
                None,
                self.stack.clock.now(),
            );
            self.stack.store.instances.create(&instance).await.expect("the instance is created");
        }
    }

    /// The demo tenant.
    pub async fn tenant(&self) -> sikurd::domain::TenantId {
        let owner_email = Email::parse(&self.email).expect("the demo e-mail parses");
        let owner =
            self.stack.store.tenants.find_user_by_email_across_tenants(&owner_email).await.expect("the store answers");
        owner.expect("the demo owner exists").tenant_id
    }

    /// Adds a user with `role` to the demo tenant; returns their e-mail address and password.
    pub async fn add_user(&self, role: Role, name: &str) -> (String, String) {
        let store = &self.stack.store;
        let tenant = self.tenant().await;
        let email = format!("{name}@sikurd.local");
        let password = format!("{name}-password-long-enough");
        let hash = bcrypt::hash(&password, 4).expect("bcrypt hashes");
        let user = User {
            id: UserId::generate(),
            tenant_id: tenant.clone(),
            name: PersonName::parse(name).expect("a valid name"),
            email: Email::parse(&email).expect("a valid e-mail address"),
            password_hash: PasswordHash::from_bcrypt(hash).expect("a bcrypt hash"),
            role,
            created_at: self.stack.clock.now(),
        };
        store.users.create(&tenant, &user).await.expect("the user is created");
        (email, password)
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        self.server.abort();
    }
}
