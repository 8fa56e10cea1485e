//! The brokers a client handle may connect to: one `host:porta`, or the members of a cluster
//! separated by commas (`a:7878,b:7878`), of which one is active and the others keep their
//! ports closed.
//!
//! [`Alvos::conectar`] tries them in turn, each for at most [`PRAZO_CONEXAO`] (a machine that
//! is down does not refuse: it does not answer at all), starting from the one whose connection
//! last answered. A connection that was accepted but never answered a byte (a broker that is
//! frozen, or hung, still accepts: its kernel does) does not count as answered: the next attempt
//! starts from the address after it, so a handle never keeps knocking at a frozen broker while
//! another one serves.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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

/// The brokers a handle may connect to, in order, and how the last connection went.
pub(crate) struct Alvos {
    /// The addresses, as given.
    pub enderecos: Vec<String>,
    /// The address of the last connection made.
    ultimo: AtomicUsize,
    /// Whether the last connection made has answered (`None`: none made yet).
    respondeu: Mutex<Option<Arc<AtomicBool>>>,
}

impl Alvos {
    /// The addresses of `servidores` (`host:porta`, separated by commas).
    pub fn de(servidores: &str) -> io::Result<Arc<Alvos>> {
        let enderecos = separar_servidores(servidores).map_err(io::Error::other)?;
        Ok(Arc::new(Alvos {
            enderecos,
            ultimo: AtomicUsize::new(0),
            respondeu: Mutex::new(None),
        }))
    }

    /// How many addresses there are.
    pub fn quantos(&self) -> usize {
        self.enderecos.len()
    }

    /// Connects to the first that accepts, starting from the last one used (or the one after
    /// it, when its connection never answered); says which. The error is the last address's.
    pub async fn conectar(&self) -> io::Result<(usize, Vigiado)> {
        let total = self.enderecos.len();
        let mudo = self
            .respondeu
            .lock()
            .unwrap_or_else(|envenenado| envenenado.into_inner())
            .as_ref()
            .is_some_and(|respondeu| !respondeu.load(Ordering::Relaxed));
        let primeiro = self.ultimo.load(Ordering::Relaxed) + usize::from(mudo);
        let mut erro = io::Error::other("nenhum endereço");
        for passo in 0..total {
            let qual = (primeiro + passo) % total;
            let endereco = self.enderecos[qual].as_str();
            match tokio::time::timeout(PRAZO_CONEXAO, TcpStream::connect(endereco)).await {
                Ok(Ok(socket)) => {
                    socket.set_nodelay(true)?;
                    let respondeu = Arc::new(AtomicBool::new(false));
                    self.ultimo.store(qual, Ordering::Relaxed);
                    *self
                        .respondeu
                        .lock()
                        .unwrap_or_else(|envenenado| envenenado.into_inner()) =
                        Some(Arc::clone(&respondeu));
                    return Ok((qual, Vigiado { socket, respondeu }));
                }
                Ok(Err(falha)) => erro = falha,
                Err(_) => {
                    erro = io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!("{endereco} não respondeu"),
                    );
                }
            }
        }
        Err(erro)
    }
}

/// A TCP connection that notes whether the broker ever sent a byte over it.
pub(crate) struct Vigiado {
    socket: TcpStream,
    respondeu: Arc<AtomicBool>,
}

impl AsyncRead for Vigiado {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let antes = buf.filled().len();
        let lido = Pin::new(&mut self.socket).poll_read(cx, buf);
        if buf.filled().len() > antes && !self.respondeu.load(Ordering::Relaxed) {
            self.respondeu.store(true, Ordering::Relaxed);
        }
        lido
    }
}

impl AsyncWrite for Vigiado {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.socket).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
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

    /// The first address refuses (a standby's closed port): the second is used, and the next
    /// attempt starts from it.
    #[tokio::test]
    async fn tenta_os_enderecos_em_ordem_e_lembra_o_que_respondeu() {
        let recusa = porta_fechada().await;
        let ouvinte = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let aberto = ouvinte.local_addr().expect("bound");
        let alvos = Alvos::de(&format!("{recusa},{aberto}")).expect("valid");
        let (qual, mut fluxo) = alvos.conectar().await.expect("the second answers");
        assert_eq!(qual, 1);
        let (mut aceito, _) = ouvinte.accept().await.expect("accepts");
        aceito.write_all(b"oi").await.expect("writes");
        let mut lido = [0; 2];
        fluxo.read_exact(&mut lido).await.expect("reads");
        let (qual, _) = alvos.conectar().await.expect("answers again");
        assert_eq!(qual, 1, "starts from the one that answered");
        drop(ouvinte);
        assert!(alvos.conectar().await.is_err(), "nobody answers");
    }

    /// Both accept, but the first never says a word (a frozen broker): the next attempt starts
    /// from the second, and stays there once it has answered.
    #[tokio::test]
    async fn um_endereco_que_aceita_e_nao_responde_fica_para_depois() {
        let mudo = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let falante = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let lista = format!(
            "{},{}",
            mudo.local_addr().expect("bound"),
            falante.local_addr().expect("bound")
        );
        let alvos = Alvos::de(&lista).expect("valid");
        let (qual, _calado) = alvos.conectar().await.expect("the first accepts");
        assert_eq!(qual, 0);
        let (qual, mut fluxo) = alvos.conectar().await.expect("accepts");
        assert_eq!(qual, 1, "the silent one is skipped");
        let (mut aceito, _) = falante.accept().await.expect("accepts");
        aceito.write_all(b"oi").await.expect("writes");
        let mut lido = [0; 2];
        fluxo.read_exact(&mut lido).await.expect("reads");
        let (qual, _) = alvos.conectar().await.expect("accepts");
        assert_eq!(qual, 1, "the one that answered is tried first");
        assert_eq!(alvos.quantos(), 2);
    }
}
