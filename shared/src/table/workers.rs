//! Threads of the embedded table's own.

use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, mpsc};

use super::TableError;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that run blocking work in arrival order. They are apart from tokio's
/// blocking pool, which many concurrent DNS lookups can fill (the local stack polls thousands of
/// 3CX systems), and bounded, since redb has one writer and hundreds of concurrent polls must not
/// each park a thread on it. The threads end when the last handle is dropped.
pub(super) struct Workers {
    jobs: mpsc::Sender<Job>,
}

impl Workers {
    pub(super) fn start(name: &str, threads: usize) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = Arc::clone(&queue);
            std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                loop {
                    let next = match queue.lock() {
                        Ok(queue) => queue.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = next else { return };
                    // A panicking job drops its answer channel (the caller sees "unavailable");
                    // the thread goes on.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                }
            })?;
        }
        Ok(Self { jobs })
    }

    /// Runs `f` on one of the threads and returns its result.
    pub(super) async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Result<T, TableError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                let _ = answer.send(f());
            }))
            .map_err(|_| TableError::unavailable(std::io::Error::other("the table's threads have stopped")))?;
        answered.await.map_err(|_| TableError::unavailable(std::io::Error::other("a table operation panicked")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_workers_and_a_panic_fails_only_its_own_job() {
        let workers = Workers::start("test", 2).unwrap();
        let name = workers.run(|| std::thread::current().name().map(str::to_owned)).await.unwrap();
        assert!(name.is_some_and(|n| n.starts_with("test-")));
        assert!(workers.run(|| panic!("boom")).await.is_err());
        for i in 0..4 {
            assert_eq!(workers.run(move || i * 2).await.unwrap(), i * 2, "both threads still serve");
        }
    }
}
