//! A broker as a member of a cluster: brokers started with the same PostgreSQL database and the
//! same cluster name elect one active among them; the others stand by, their ports closed, until
//! the active is gone, and then one of them takes over.
//!
//! The election is the database's (see [`crate::armazenamento::lideranca`]): a standby tries the
//! cluster's advisory lock every fifth of the lease's term ([`Cluster::prazo`]); the one that
//! gets it raises the epoch, restores the journal the old active left and serves
//! ([`Broker::assumir`]) under a [`Mandato`], while a task of this module renews the lease every
//! fifth of the term. A renewal that fails, or finds another epoch, loses the mandate; so does a
//! lease not renewed for four fifths of the term (the server ends the lock's connection after a
//! whole term of silence, so the old active always stops before a standby can start). The broker
//! then steps down and becomes a standby again. Stopping a member that is active hands over the
//! same way: the sessions stay in the journal and the apps resume on the next active.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::armazenamento::lideranca::{Ativo, Candidatura};
use crate::armazenamento::{self, Banco, agora_ms};
use crate::config::{Cluster, Config};
use crate::indicadores;
use crate::mandato::Mandato;
use crate::server::Broker;

/// Backlog of a listener opened at a takeover (as `TcpListener::bind` gives).
const FILA_DE_ACEITE: u32 = 1024;

/// What a member is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Papel {
    /// Standing by, its ports closed.
    Espera,
    /// Serving, in this epoch.
    Ativo(i64),
}

/// A running member of a cluster.
pub struct Membro {
    endereco: SocketAddr,
    endereco_web: Option<SocketAddr>,
    papel: watch::Receiver<Papel>,
    desligar: CancellationToken,
    tarefa: JoinHandle<()>,
}

impl Membro {
    /// Joins the cluster `config.cluster` on `config.banco` (PostgreSQL): reserves the ports
    /// (they stay closed while the member stands by) and starts competing for the lease.
    pub async fn iniciar(config: Config) -> io::Result<Membro> {
        let (cluster, url) = match (&config.cluster, &config.banco) {
            (Some(cluster), Some(url)) => (cluster.clone(), url.clone()),
            _ => {
                return Err(io::Error::other(
                    "um membro de cluster precisa de cluster e banco",
                ));
            }
        };
        let falha = |erro: armazenamento::ErroBanco| {
            io::Error::other(format!(
                "banco ({}): {erro}",
                armazenamento::sem_senha(&url)
            ))
        };
        // A standby serves its metrics too: `fila_cluster_ativo` says which member is active.
        if let Some(endereco) = config.metricas {
            indicadores::instalar(endereco)
                .map_err(|erro| io::Error::other(format!("métricas em {endereco}: {erro}")))?;
            indicadores::papel_no_cluster(None);
        }
        // Migrates the schema, and says at once when the database is wrong.
        Banco::abrir_no_cluster(&url, cluster.prazo)
            .await
            .map_err(falha)?;
        let candidatura = Candidatura::abrir(&url, &cluster.nome, cluster.prazo)
            .await
            .map_err(falha)?;
        let protocolo = Reserva::nova(config.escutar)?;
        let web = config.web.map(Reserva::nova).transpose()?;
        let (endereco, endereco_web) = (protocolo.endereco, web.as_ref().map(|w| w.endereco));
        let (papel_tx, papel) = watch::channel(Papel::Espera);
        let desligar = CancellationToken::new();
        let membro = Executor {
            descricao: descrever(endereco, endereco_web),
            cluster,
            url,
            config,
            reservas: (protocolo, web),
            papel: papel_tx,
            desligar: desligar.clone(),
        };
        let tarefa = tokio::spawn(membro.executar(candidatura));
        Ok(Membro {
            endereco,
            endereco_web,
            papel,
            desligar,
            tarefa,
        })
    }

    /// The address it serves on when active.
    pub fn endereco(&self) -> SocketAddr {
        self.endereco
    }

    /// The address of its web page and WebSocket when active, when it serves them.
    pub fn endereco_web(&self) -> Option<SocketAddr> {
        self.endereco_web
    }

    /// What it is doing, and its changes.
    pub fn papel(&self) -> watch::Receiver<Papel> {
        self.papel.clone()
    }

    /// Leaves the cluster: a standby just goes; an active hands over (it stops serving without a
    /// goodbye, leaving the sessions in the journal, and lets go of the lease, so a standby
    /// takes over and the apps resume there).
    pub async fn parar(self) {
        self.desligar.cancel();
        let _ = self.tarefa.await;
    }
}

/// A port kept for the member while it stands by: bound, so nobody else takes it, but not
/// listening, so a connection to it is refused at once and a client tries its next address.
struct Reserva {
    endereco: SocketAddr,
    socket: Option<TcpSocket>,
}

impl Reserva {
    fn nova(endereco: SocketAddr) -> io::Result<Reserva> {
        let socket = vincular(endereco).map_err(|erro| {
            io::Error::new(
                erro.kind(),
                format!("não foi possível reservar {endereco}: {erro}"),
            )
        })?;
        Ok(Reserva {
            endereco: socket.local_addr()?,
            socket: Some(socket),
        })
    }

    /// Starts listening (a takeover).
    fn abrir(&mut self) -> io::Result<TcpListener> {
        let socket = match self.socket.take() {
            Some(socket) => socket,
            None => vincular(self.endereco)?,
        };
        socket.listen(FILA_DE_ACEITE)
    }

    /// Binds the port again after a step-down closed it.
    fn renovar(&mut self) {
        if self.socket.is_none() {
            match vincular(self.endereco) {
                Ok(socket) => self.socket = Some(socket),
                Err(erro) => warn!(endereco = %self.endereco, %erro, "porta não reservada"),
            }
        }
    }
}

fn vincular(endereco: SocketAddr) -> io::Result<TcpSocket> {
    let socket = if endereco.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(endereco)?;
    Ok(socket)
}

/// How a member describes itself to the others: host, process and addresses.
fn descrever(endereco: SocketAddr, web: Option<SocketAddr>) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|nome| nome.trim().to_owned())
        .unwrap_or_else(|_| "?".into());
    let web = web.map_or_else(String::new, |web| format!(", web {web}"));
    format!(
        "{host} (pid {}), protocolo {endereco}{web}",
        std::process::id()
    )
}

/// The member's task and what it works with.
struct Executor {
    descricao: String,
    cluster: Cluster,
    url: String,
    config: Config,
    reservas: (Reserva, Option<Reserva>),
    papel: watch::Sender<Papel>,
    desligar: CancellationToken,
}

impl Executor {
    /// Stands by and serves, in turn, until told to stop.
    async fn executar(mut self, mut candidatura: Candidatura) {
        loop {
            let Some(vencedora) = self.esperar_a_vez(candidatura).await else {
                return;
            };
            let Some(mandato) = self.tomar_posse(vencedora).await else {
                if self.desligar.is_cancelled() {
                    return;
                }
                tokio::time::sleep(self.cluster.prazo).await;
                match self.reconectar().await {
                    Some(nova) => candidatura = nova,
                    None => return,
                }
                continue;
            };
            let _ = self.papel.send(Papel::Espera);
            indicadores::papel_no_cluster(None);
            mandato.perder();
            self.reservas.0.renovar();
            if let Some(web) = &mut self.reservas.1 {
                web.renovar();
            }
            if self.desligar.is_cancelled() {
                info!("membro do cluster encerrado");
                return;
            }
            match self.reconectar().await {
                Some(nova) => candidatura = nova,
                None => return,
            }
        }
    }

    /// A fifth of the lease's term: how often the lease is renewed and a standby tries for it.
    fn intervalo(&self) -> Duration {
        self.cluster.prazo / 5
    }

    /// Stands by until `candidatura` wins the lock; returns it. `None` when told to stop.
    async fn esperar_a_vez(&self, mut candidatura: Candidatura) -> Option<Candidatura> {
        let mut visto: Option<Ativo> = None;
        loop {
            match candidatura.tentar().await {
                Ok(true) => return Some(candidatura),
                Ok(false) => {
                    if let Ok(ativo) = candidatura.ativo().await {
                        anunciar_ativo(&mut visto, ativo);
                    }
                }
                Err(erro) => {
                    warn!(%erro, "sem contato com o banco do cluster; tentando de novo");
                    tokio::select! {
                        _ = self.desligar.cancelled() => return None,
                        _ = tokio::time::sleep(self.cluster.prazo) => {}
                    }
                    candidatura = self.reconectar().await?;
                    continue;
                }
            }
            tokio::select! {
                _ = self.desligar.cancelled() => {
                    candidatura.largar().await;
                    return None;
                }
                _ = tokio::time::sleep(self.intervalo()) => {}
            }
        }
    }

    /// A fresh connection to compete for the lock with, retrying until the database answers;
    /// `None` when told to stop.
    async fn reconectar(&self) -> Option<Candidatura> {
        loop {
            match Candidatura::abrir(&self.url, &self.cluster.nome, self.cluster.prazo).await {
                Ok(candidatura) => return Some(candidatura),
                Err(erro) => warn!(%erro, "sem contato com o banco do cluster; tentando de novo"),
            }
            tokio::select! {
                _ = self.desligar.cancelled() => return None,
                _ = tokio::time::sleep(self.cluster.prazo) => {}
            }
        }
    }

    /// With the lock won: raises the epoch, restores the journal and serves, renewing the lease,
    /// until the mandate is lost or the member is told to stop. Returns the mandate, lost by
    /// then, once the broker has stepped down; `None` when it could not start (the lock is let
    /// go).
    async fn tomar_posse(&mut self, mut candidatura: Candidatura) -> Option<Arc<Mandato>> {
        let posse = match candidatura.assumir(&self.descricao).await {
            Ok(posse) => posse,
            Err(erro) => {
                error!(%erro, "não foi possível assumir o cluster");
                return None;
            }
        };
        let validade = self.cluster.prazo * 4 / 5;
        let mandato = Arc::new(Mandato::novo(
            self.cluster.nome.clone(),
            posse.epoca,
            posse.desde + validade,
        ));
        let renovacao = tokio::spawn(renovar(
            candidatura,
            Arc::clone(&mandato),
            (self.intervalo(), validade),
        ));
        let broker = match self.abrir_broker(&mandato).await {
            Ok(broker) => broker,
            Err(erro) => {
                error!(%erro, "não foi possível servir depois de assumir o cluster");
                mandato.perder();
                if let Ok(candidatura) = renovacao.await {
                    candidatura.largar().await;
                }
                return None;
            }
        };
        let lacuna = posse
            .ultimo_batimento
            .map(|em| agora_ms().saturating_sub(em));
        info!(
            cluster = %self.cluster.nome,
            epoca = posse.epoca,
            lacuna_ms = ?lacuna,
            "assumiu o atendimento: sessões restauradas do diário, portas abertas"
        );
        let _ = self.papel.send(Papel::Ativo(posse.epoca));
        indicadores::papel_no_cluster(Some(posse.epoca));
        tokio::select! {
            _ = mandato.perdido() => {}
            _ = self.desligar.cancelled() => {
                info!("passando o atendimento a outro membro do cluster");
                mandato.perder();
            }
        }
        broker.terminado().await;
        // The lock goes once the broker has stopped writing.
        if let Ok(candidatura) = renovacao.await {
            candidatura.largar().await;
        }
        warn!(epoca = posse.epoca, "deixou de ser o ativo: em espera");
        Some(mandato)
    }

    /// Opens the reserved ports and starts serving under `mandato`.
    async fn abrir_broker(&mut self, mandato: &Arc<Mandato>) -> io::Result<Broker> {
        let ouvinte = self.reservas.0.abrir()?;
        let web = self.reservas.1.as_mut().map(Reserva::abrir).transpose()?;
        Broker::assumir(ouvinte, web, self.config.clone(), Arc::clone(mandato)).await
    }
}

/// Logs the cluster's active when it is a different one from the last seen.
fn anunciar_ativo(visto: &mut Option<Ativo>, ativo: Option<Ativo>) {
    let Some(ativo) = ativo else { return };
    if visto.as_ref().map(|v| v.epoca) != Some(ativo.epoca) {
        info!(
            ativo = %ativo.ativo,
            epoca = ativo.epoca,
            ultimo_sinal_ms = agora_ms().saturating_sub(ativo.batimento),
            "em espera: outro broker é o ativo"
        );
    }
    *visto = Some(ativo);
}

/// Renews the lease every `intervalo`, extending `mandato` to `validade` after each renewal's
/// start, until the mandate is lost (by a failed renewal, another epoch, the term running out,
/// or the member handing over). Gives the lock's connection back.
async fn renovar(
    mut candidatura: Candidatura,
    mandato: Arc<Mandato>,
    (intervalo, validade): (Duration, Duration),
) -> Candidatura {
    loop {
        tokio::select! {
            _ = mandato.perdido() => return candidatura,
            _ = tokio::time::sleep(intervalo) => {}
        }
        let inicio = Instant::now();
        let prazo = Instant::from_std(mandato.valido_ate());
        match tokio::time::timeout_at(prazo, candidatura.renovar(mandato.epoca)).await {
            Ok(Ok(true)) => mandato.prorrogar((inicio + validade).into_std()),
            Ok(Ok(false)) => {
                warn!(epoca = mandato.epoca, "outro broker assumiu o cluster");
                mandato.perder();
            }
            Ok(Err(erro)) => {
                warn!(%erro, "a conexão que segura a liderança falhou");
                mandato.perder();
            }
            Err(_) => {
                warn!("o banco não confirmou a liderança a tempo");
                mandato.perder();
            }
        }
    }
}
