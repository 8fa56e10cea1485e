//! A broker in a child process of its own, so that its memory can be read apart from the load
//! tool's: `carga` starts itself again with a hidden subcommand that serves the broker, prints
//! its address and its web listener's on one line and runs until its standard input closes (which also happens when
//! the parent dies, so a child is never left behind). A child may be a member of a cluster
//! ([`BrokerFilho::membro`]): it then prints the addresses it reserved at once, while it stands
//! by, and can be frozen and thawed (SIGSTOP, SIGCONT) as well as killed.

use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

/// The hidden subcommand that makes `carga` serve a broker instead of loading one.
pub const SUBCOMANDO: &str = "broker-filho";

/// A broker running in a child process.
pub struct BrokerFilho {
    processo: Child,
    /// Kept open: the child runs until it closes.
    _entrada: Option<ChildStdin>,
    endereco: SocketAddr,
    endereco_web: SocketAddr,
}

impl BrokerFilho {
    /// Starts `executavel` (the load tool) with [`SUBCOMANDO`], keeping the history in `banco`
    /// and listening on `escutar` if given, and waits for the address it serves on.
    pub fn iniciar(
        executavel: &std::path::Path,
        banco: Option<&str>,
        escutar: Option<SocketAddr>,
    ) -> io::Result<BrokerFilho> {
        let mut comando = Command::new(executavel);
        if let Some(banco) = banco {
            comando.arg("--banco").arg(banco);
        }
        comando.arg(SUBCOMANDO);
        if let Some(escutar) = escutar {
            comando.arg("--escutar").arg(escutar.to_string());
        }
        BrokerFilho::lancar(comando)
    }

    /// Starts `executavel` as a member of cluster `cluster` on the PostgreSQL database `banco`,
    /// with the lease's term `prazo`; returns as soon as it has reserved its ports (it may
    /// still be standing by).
    pub fn membro(
        executavel: &std::path::Path,
        banco: &str,
        cluster: &str,
        prazo: Duration,
    ) -> io::Result<BrokerFilho> {
        BrokerFilho::membro_com_batimento(executavel, banco, cluster, (prazo, None))
    }

    /// Like [`BrokerFilho::membro`], with the heartbeat interval `batimento` when given (the
    /// apps notice a silent broker after two of them).
    pub fn membro_com_batimento(
        executavel: &std::path::Path,
        banco: &str,
        cluster: &str,
        (prazo, batimento): (Duration, Option<Duration>),
    ) -> io::Result<BrokerFilho> {
        let mut comando = Command::new(executavel);
        comando
            .arg("--banco")
            .arg(banco)
            .arg(SUBCOMANDO)
            .arg("--cluster")
            .arg(cluster)
            .arg("--prazo-lideranca")
            .arg(humantime::format_duration(prazo).to_string());
        if let Some(batimento) = batimento {
            comando
                .arg("--batimento")
                .arg(humantime::format_duration(batimento).to_string());
        }
        BrokerFilho::lancar(comando)
    }

    fn lancar(mut comando: Command) -> io::Result<BrokerFilho> {
        let mut processo = comando
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let entrada = processo.stdin.take();
        let saida = processo
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("sem saída"))?;
        let mut linha = String::new();
        BufReader::new(saida).read_line(&mut linha)?;
        let mut enderecos = linha.split_whitespace().map(str::parse::<SocketAddr>);
        let (Some(Ok(endereco)), Some(Ok(endereco_web))) = (enderecos.next(), enderecos.next())
        else {
            let _ = processo.kill();
            return Err(io::Error::other(format!(
                "o broker filho não disse os endereços: {linha:?}"
            )));
        };
        Ok(BrokerFilho {
            processo,
            _entrada: entrada,
            endereco,
            endereco_web,
        })
    }

    /// Where the child broker accepts connections.
    pub fn endereco(&self) -> SocketAddr {
        self.endereco
    }

    /// Where the child broker serves the web page and WebSocket.
    pub fn endereco_web(&self) -> SocketAddr {
        self.endereco_web
    }

    /// Kills the child at once (SIGKILL): no goodbye, no flush, as a crash would.
    pub fn matar(&mut self) {
        let _ = self.processo.kill();
        let _ = self.processo.wait();
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.processo.id()
    }

    /// Stops the child as Ctrl-C would (its standard input closes) and waits for it to end.
    pub fn encerrar(mut self) {
        self._entrada = None;
        let _ = self.processo.wait();
    }

    /// Freezes the child (SIGSTOP): it runs nothing, but its sockets stay open.
    pub fn congelar(&self) {
        self.sinal("-STOP");
    }

    /// Thaws a frozen child (SIGCONT).
    pub fn descongelar(&self) {
        self.sinal("-CONT");
    }

    fn sinal(&self, sinal: &str) {
        let feito = Command::new("kill")
            .arg(sinal)
            .arg(self.pid().to_string())
            .status()
            .is_ok_and(|status| status.success());
        assert!(feito, "kill {sinal} {} failed", self.pid());
    }
}

impl Drop for BrokerFilho {
    fn drop(&mut self) {
        let _ = self.processo.kill();
        let _ = self.processo.wait();
    }
}

/// Waits until `endereco` accepts connections (its broker serves, a cluster's member became the
/// active), for at most `limite`; whether it did.
pub async fn esperar_que_aceite(endereco: SocketAddr, limite: Duration) -> bool {
    esperar_a_porta(endereco, limite, true).await
}

/// Waits until `endereco` refuses connections (its broker stopped, or stepped down and stands
/// by), for at most `limite`; whether it did.
pub async fn esperar_que_recuse(endereco: SocketAddr, limite: Duration) -> bool {
    esperar_a_porta(endereco, limite, false).await
}

async fn esperar_a_porta(endereco: SocketAddr, limite: Duration, aberta: bool) -> bool {
    let limite = std::time::Instant::now() + limite;
    loop {
        if tokio::net::TcpStream::connect(endereco).await.is_ok() == aberta {
            return true;
        }
        if std::time::Instant::now() >= limite {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The resident memory of process `pid`, in bytes (Linux: `VmRSS` in `/proc/PID/status`).
pub fn memoria_residente(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|linha| linha.strip_prefix("VmRSS:"))
        .and_then(|valor| {
            valor
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map(|kib| kib * 1024)
        .ok_or_else(|| io::Error::other("VmRSS ausente"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn le_a_memoria_deste_processo() {
        let antes = memoria_residente(std::process::id()).expect("readable on Linux");
        assert!(antes > 0);
        // Touch 64 MiB: the reading must grow by about that much.
        let bloco = std::hint::black_box(vec![1u8; 64 << 20]);
        let depois = memoria_residente(std::process::id()).expect("readable on Linux");
        assert!(depois >= antes + (60 << 20), "{antes} -> {depois}");
        drop(bloco);
    }
}
