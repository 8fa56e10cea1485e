//! The brokers a client handle may connect to: one `host:porta`, or the members of a cluster
//! separated by commas (`a:7878,b:7878`), of which one is active and the others keep their
//! ports closed.
//!
//! [`Alvos::conectar`] tries them in turn, each for at most [`PRAZO_CONEXAO`] (a machine that
//! is down does not refuse: it does not answer at all). Each attempt starts after the address of
//! the last connection made: a handle reconnects because that connection failed, and the broker
//! behind it may be frozen or hung (its kernel still accepts) while another one serves. When the
//! other members refuse (they stand by), the list comes round to the same broker at once.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::TcpStream;

/// How long a client waits for a TCP connection to one address before trying the next.
pub const PRAZO_CONEXAO: Duration = Duration::from_secs(3);

/// The addresses of a `--servidor` list: `host:porta`, separated by commas (spaces around
/// them are ignored). Says what is wrong when one is empty.
pub fn separar_servidores(servidores: &str) -> Result<Vec<String>, String> {
    let enderecos: Vec<String> = servidores
        .split(',')
        .map(|endereco| endereco.trim().to_owned())
        .collect();
    if enderecos.iter().any(String::is_empty) {
        return Err(format!(
            "lista de servidores inválida: {servidores:?} (use host:porta, separados por vírgula)"
        ));
    }
    Ok(enderecos)
}

/// The brokers a handle may connect to, in order, and where to start next time.
pub(crate) struct Alvos {
    /// The addresses, as given.
    pub enderecos: Vec<String>,
    /// The address after the one of the last connection made.
    proximo: AtomicUsize,
}

impl Alvos {
    /// The addresses of `servidores` (`host:porta`, separated by commas).
    pub fn de(servidores: &str) -> io::Result<Arc<Alvos>> {
        let enderecos = separar_servidores(servidores).map_err(io::Error::other)?;
        Ok(Arc::new(Alvos {
            enderecos,
            proximo: AtomicUsize::new(0),
        }))
    }

    /// How many addresses there are.
    pub fn quantos(&self) -> usize {
        self.enderecos.len()
    }

    /// Connects to the first that accepts, starting after the one of the last connection made;
    /// says which. The error is the last address's.
    pub async fn conectar(&self) -> io::Result<(usize, TcpStream)> {
        let total = self.enderecos.len();
        let primeiro = self.proximo.load(Ordering::Relaxed);
        let mut erro = io::Error::other("nenhum endereço");
        for passo in 0..total {
            let qual = (primeiro + passo) % total;
            match conectar_a(&self.enderecos[qual]).await {
                Ok(socket) => {
                    self.proximo.store((qual + 1) % total, Ordering::Relaxed);
                    return Ok((qual, socket));
                }
                Err(falha) => erro = falha,
            }
        }
        Err(erro)
    }

    /// How long a TLS handshake may take: with other brokers to try, no longer than a TCP
    /// connection (a frozen broker accepts and never answers); alone, as long as the protocol's.
    pub fn prazo_tls(&self) -> Duration {
        if self.enderecos.len() > 1 {
            PRAZO_CONEXAO
        } else {
            crate::cliente::PRAZO_RESPOSTA
        }
    }
}

/// Connects to `endereco` (`host:porta`): each of its socket addresses in turn, each for at
/// most [`PRAZO_CONEXAO`] (so an unreachable IPv6 address does not use up the IPv4 one's time).
async fn conectar_a(endereco: &str) -> io::Result<TcpStream> {
    let resolvidos = tokio::time::timeout(PRAZO_CONEXAO, tokio::net::lookup_host(endereco))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("{endereco}: sem DNS")))??;
    let mut erro = io::Error::other(format!("{endereco}: nenhum endereço"));
    for par in resolvidos {
        match tokio::time::timeout(PRAZO_CONEXAO, TcpStream::connect(par)).await {
            Ok(Ok(socket)) => {
                socket.set_nodelay(true)?;
                return Ok(socket);
            }
            Ok(Err(falha)) => erro = falha,
            Err(_) => {
                erro = io::Error::new(io::ErrorKind::TimedOut, format!("{par} não respondeu"));
            }
        }
    }
    Err(erro)
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    #[test]
    fn listas_de_servidores() {
        assert_eq!(
            separar_servidores("a:7878, b:7878").expect("valid"),
            ["a:7878", "b:7878"]
        );
        assert_eq!(
            separar_servidores("127.0.0.1:7878").expect("valid"),
            ["127.0.0.1:7878"]
        );
        assert!(separar_servidores("a:7878,,b:7878").is_err());
        assert!(separar_servidores("").is_err());
    }

    /// A port nobody listens on.
    async fn porta_fechada() -> String {
        let ouvinte = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let endereco = ouvinte.local_addr().expect("bound");
        drop(ouvinte);
        endereco.to_string()
    }

    /// The first address refuses (a standby's closed port): the second is used; the next
    /// attempt starts after it, and comes round to it when the first still refuses.
    #[tokio::test]
    async fn tenta_os_enderecos_em_ordem_a_partir_do_seguinte() {
        let recusa = porta_fechada().await;
        let ouvinte = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let aberto = ouvinte.local_addr().expect("bound");
        let alvos = Alvos::de(&format!("{recusa},{aberto}")).expect("valid");
        let (qual, _) = alvos.conectar().await.expect("the second answers");
        assert_eq!(qual, 1);
        let (qual, _) = alvos.conectar().await.expect("answers again");
        assert_eq!(qual, 1, "the first still refuses");
        drop(ouvinte);
        assert!(alvos.conectar().await.is_err(), "nobody answers");
        assert_eq!(alvos.quantos(), 2);
    }

    /// Both accept (one of them frozen, say): after a connection to one, the next attempt goes
    /// to the other.
    #[tokio::test]
    async fn depois_de_uma_conexao_a_proxima_tentativa_comeca_pelo_outro() {
        let um = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let outro = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let lista = format!(
            "{},{}",
            um.local_addr().expect("bound"),
            outro.local_addr().expect("bound")
        );
        let alvos = Alvos::de(&lista).expect("valid");
        let (qual, _) = alvos.conectar().await.expect("accepts");
        assert_eq!(qual, 0, "the first connection starts at the first address");
        let (qual, _) = alvos.conectar().await.expect("accepts");
        assert_eq!(qual, 1);
        let (qual, _) = alvos.conectar().await.expect("accepts");
        assert_eq!(qual, 0);
    }
}
