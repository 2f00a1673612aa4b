//! Signals tied to an identity. On Linux the process is pinned with a pidfd
//! before it is re-verified, and the signal goes through that pidfd, so it
//! cannot reach a recycled pid. Elsewhere (or without pidfds) the identity is
//! re-checked immediately before `kill`.

#[cfg(unix)]
mod pin;
#[cfg(unix)]
pub(crate) use pin::{send, wait_exit, Sent, Target};

/// The signals procreap sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sig {
    /// Ask to exit.
    Term,
    /// Force exit.
    Kill,
    /// Resume a stopped process so it can act on SIGTERM.
    Cont,
}

impl Sig {
    /// `SIGTERM`, `SIGKILL`, `SIGCONT`.
    pub fn name(self) -> &'static str {
        match self {
            Sig::Term => "SIGTERM",
            Sig::Kill => "SIGKILL",
            Sig::Cont => "SIGCONT",
        }
    }

    /// Inverse of [`Sig::name`].
    pub fn from_name(s: &str) -> Option<Sig> {
        [Sig::Term, Sig::Kill, Sig::Cont]
            .into_iter()
            .find(|x| x.name() == s)
    }
}
