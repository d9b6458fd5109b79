//! The signals that stop a command cleanly — SIGINT (Ctrl-C), SIGTERM (what CI sends a
//! cancelled job) and SIGHUP (the terminal closed) — registered before the work they guard
//! begins, so none finds the default handler that would end the process mid-write.

/// The signals that stop an apply (and the demo).
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
    /// The terminal closed.
    #[cfg(unix)]
    hangup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    pub(crate) fn register() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Signals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
                hangup: signal(SignalKind::hangup()).ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// Waits for the first signal and says which it was.
    #[cfg(unix)]
    pub(crate) async fn next(mut self) -> Option<&'static str> {
        async fn recv(signal: Option<&mut tokio::signal::unix::Signal>) -> Option<()> {
            match signal {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            Some(()) = recv(self.interrupt.as_mut()) => Some("interrupted (Ctrl-C)"),
            Some(()) = recv(self.terminate.as_mut()) => Some("terminated (SIGTERM)"),
            Some(()) = recv(self.hangup.as_mut()) => Some("hung up (SIGHUP)"),
            else => None,
        }
    }

    #[cfg(not(unix))]
    pub(crate) async fn next(self) -> Option<&'static str> {
        tokio::signal::ctrl_c()
            .await
            .ok()
            .map(|()| "interrupted (Ctrl-C)")
    }
}
