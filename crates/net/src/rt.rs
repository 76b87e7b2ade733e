//! The async runtime pieces the layers above need, so that only this crate (and the test
//! server) depends on tokio: spawning a task, running blocking work off the async workers,
//! sleeping, and bounding a future by a timeout.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! use std::time::Duration;
//! use inbound_net::rt;
//!
//! let task = rt::spawn(async { 6 * 7 });
//! assert_eq!(task.join().await, Some(42));
//! assert!(rt::timeout(Duration::from_millis(5), rt::sleep(Duration::from_secs(60))).await.is_err());
//! assert_eq!(rt::spawn_blocking(|| 6 * 7).await, Some(42)); // on a blocking thread
//! # }
//! ```

use std::future::Future;
use std::time::Duration;

/// A spawned task. Dropping the handle lets the task run on; [`Task::abort`] stops it.
#[derive(Debug)]
pub struct Task<T> {
    handle: tokio::task::JoinHandle<T>,
}

impl<T> Task<T> {
    /// Waits for the task to finish. `None` when it panicked or was aborted.
    pub async fn join(self) -> Option<T> {
        self.handle.await.ok()
    }

    /// Stops the task at its next await point.
    pub fn abort(&self) {
        self.handle.abort();
    }

    /// True once the task has finished (completed, panicked or aborted).
    pub fn is_finished(&self) -> bool {
        self.handle.is_finished()
    }
}

/// Spawns `future` on the current tokio runtime.
///
/// Must be called from within a runtime (any async context driven by tokio).
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Task {
        handle: tokio::spawn(future),
    }
}

/// Runs the blocking function `f` on the tokio runtime's pool of blocking threads, so the
/// async workers stay free (a child process to wait for, a file to read); `None` when `f`
/// panicked. Outside a tokio runtime (another executor, `futures::executor::block_on`)
/// there are no workers to keep free: `f` runs right here.
pub async fn spawn_blocking<F, T>(f: F) -> Option<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => handle.spawn_blocking(f).await.ok(),
        Err(_) => Some(f()),
    }
}

/// Sleeps for `duration` (honours tokio's paused test clock).
pub async fn sleep(duration: Duration) {
    tokio::time::sleep(duration).await;
}

/// The error of [`timeout`]: the future did not finish in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {0:?}")]
pub struct Elapsed(pub Duration);

/// Runs `future` for at most `duration`.
pub async fn timeout<F: Future>(duration: Duration, future: F) -> Result<F::Output, Elapsed> {
    tokio::time::timeout(duration, future)
        .await
        .map_err(|_| Elapsed(duration))
}

/// Runs `f`, blocking or CPU-heavy work (parsing a large message, say), from async code
/// without stalling the runtime's other tasks: on tokio's multi-threaded runtime the worker
/// first hands its other tasks to another thread (`block_in_place`). On a current-thread
/// runtime or outside any runtime, `f` simply runs.
pub fn run_blocking<R>(f: impl FnOnce() -> R) -> R {
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used)]
    use super::*;

    /// With one worker thread, a blocking section that waits for another task would wait
    /// forever unless that task can run elsewhere meanwhile.
    #[test]
    fn blocking_work_lets_other_tasks_run() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("runtime");
        let ran = runtime.block_on(async {
            let outer = spawn(async {
                let (tx, rx) = std::sync::mpsc::channel();
                let _other = spawn(async move {
                    let _ = tx.send(());
                });
                run_blocking(|| rx.recv_timeout(Duration::from_secs(10)).is_ok())
            });
            outer.join().await
        });
        assert_eq!(ran, Some(true));
    }

    #[test]
    fn blocking_work_runs_on_a_current_thread_runtime_and_without_one() {
        assert_eq!(run_blocking(|| 7), 7);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        assert_eq!(runtime.block_on(async { run_blocking(|| 8) }), 8);
    }
}
