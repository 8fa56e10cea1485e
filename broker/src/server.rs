//! The accept loop and the broker's lifecycle: start, serve, shut down gracefully.
//!
//! [`Broker::iniciar`] binds the listener and spawns the actor and the accept loop; every
//! accepted connection gets its own task. [`Broker::encerrar`] stops accepting, has the actor
//! tell every session `Fim` (`BrokerEncerrando`), gives connections
//! [`Config::prazo_encerramento`] to flush, then cuts whatever is left.

use std::io;
use std::net::SocketAddr;

use proto::SessaoId;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, info, info_span, warn};

use crate::actor::{self, Comando};
use crate::config::Config;
use crate::connection::{self, Contexto};

/// A running broker.
pub struct Broker {
    /// The address it actually listens on (useful when configured with port 0).
    endereco: SocketAddr,
    /// Cancelled to start the shutdown.
    desligar: CancellationToken,
    /// The accept loop, which also runs the shutdown.
    tarefa: JoinHandle<()>,
}

impl Broker {
    /// Binds `config.escutar` and starts serving.
    pub async fn iniciar(config: Config) -> io::Result<Broker> {
        let ouvinte = TcpListener::bind(config.escutar).await?;
        let endereco = ouvinte.local_addr()?;
        let desligar = CancellationToken::new();
        let tarefa = tokio::spawn(servir(ouvinte, config, desligar.clone()));
        info!(%endereco, "broker ouvindo");
        Ok(Broker {
            endereco,
            desligar,
            tarefa,
        })
    }

    /// The address the broker listens on.
    pub fn endereco(&self) -> SocketAddr {
        self.endereco
    }

    /// Shuts the broker down gracefully and waits until it has.
    pub async fn encerrar(self) {
        self.desligar.cancel();
        let _ = self.tarefa.await;
    }
}

/// Accepts connections until told to stop, then shuts down.
async fn servir(ouvinte: TcpListener, config: Config, desligar: CancellationToken) {
    let (ator_tx, ator_rx) = mpsc::channel(config.capacidade_comandos);
    let ator = tokio::spawn(actor::executar(config.clone(), ator_rx));
    let contexto = Contexto {
        config: config.clone(),
        ator: ator_tx,
        desligar: desligar.clone(),
        forcar: CancellationToken::new(),
    };
    let conexoes = TaskTracker::new();
    let mut ultima_sessao: SessaoId = 0;
    loop {
        tokio::select! {
            _ = desligar.cancelled() => break,
            aceito = ouvinte.accept() => match aceito {
                Ok((socket, par)) => {
                    ultima_sessao += 1;
                    let span = info_span!("sessao", id = ultima_sessao);
                    conexoes.spawn(
                        connection::atender(socket, par, ultima_sessao, contexto.clone())
                            .instrument(span),
                    );
                }
                Err(erro) => {
                    // Usually out of file descriptors: back off instead of spinning.
                    warn!(%erro, "falha ao aceitar conexão");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(ouvinte);
    info!("encerrando: novas conexões recusadas");
    let _ = contexto.ator.send(Comando::Encerrar).await;
    conexoes.close();
    if tokio::time::timeout(config.prazo_encerramento, conexoes.wait())
        .await
        .is_err()
    {
        warn!("prazo de encerramento esgotado: cortando as conexões restantes");
        contexto.forcar.cancel();
        conexoes.wait().await;
    }
    drop(contexto);
    let _ = ator.await;
    info!("broker encerrado");
}
