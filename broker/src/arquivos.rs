//! The open-file limit: every connection is a file descriptor, so a broker meant to hold
//! `conexoes_maximas` connections needs at least that many.
//!
//! At start the broker raises its soft limit as far as the hard limit allows (what servers
//! conventionally do), and says so when even that is too low for its connection cap, instead of
//! failing later with "too many open files" on accept.

use std::io;

/// Descriptors kept aside for what is not a connection: the listener, the runtime, logs, files.
pub const RESERVA: u64 = 64;

/// The open-file limit after raising it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimiteDeArquivos {
    /// The soft limit now in force.
    pub atual: u64,
    /// The hard limit, which an unprivileged process cannot go beyond.
    pub maximo: u64,
}

impl LimiteDeArquivos {
    /// Most connections this limit leaves room for.
    pub fn conexoes(&self) -> u64 {
        self.atual.saturating_sub(RESERVA)
    }
}

/// Raises the soft open-file limit to the hard limit and returns both.
pub fn elevar_limite() -> io::Result<LimiteDeArquivos> {
    let (_, maximo) = rlimit::getrlimit(rlimit::Resource::NOFILE)?;
    let atual = rlimit::increase_nofile_limit(maximo)?;
    Ok(LimiteDeArquivos { atual, maximo })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elevar_deixa_o_limite_suave_no_maximo() {
        let limite = elevar_limite().expect("the limit can be read");
        let (suave, rigido) = rlimit::getrlimit(rlimit::Resource::NOFILE).expect("readable");
        assert_eq!(limite.maximo, rigido);
        assert_eq!(limite.atual, suave);
        assert!(limite.atual > RESERVA);
    }
}
