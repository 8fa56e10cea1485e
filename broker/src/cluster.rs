//! A broker as a member of a cluster: brokers started with the same PostgreSQL database and the
//! same cluster name elect one active among them; the others stand by, their ports closed, until
//! the active is gone, and then one of them takes over.
//!
//! The election is the database's (see [`crate::armazenamento::lideranca`]): a standby tries the
//! schema's advisory lock every fifth of the lease's term ([`Cluster::prazo`]); the one that
//! gets it raises the epoch, restores the journal the old active left, opens its ports and
//! serves ([`Broker::assumir`]) under a [`Mandato`], while a task of this module renews the
//! lease every fifth of the term. A renewal that fails, or finds another epoch, loses the
//! mandate; so does a lease not renewed for four fifths of the term. The server ends a silent
//! lock connection only after a whole term, so an active that went silent has stopped before a
//! standby can start; and a standby that finds the lock freed early (the old active's connection
//! cut, the server restarted) waits until the old active's next renewal has failed before it
//! serves. The broker that lost its mandate steps down and stands by again, after letting the
//! others try first. Stopping a member that is active hands over the same way: the sessions
//! stay in the journal and the apps resume on the next active.

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

use crate::armazenamento::lideranca::{Grupo, Trava};
use crate::armazenamento::{self, Banco, ErroBanco};
use crate::config::{Cluster, Config};
use crate::indicadores;
use crate::mandato::{Mandato, Marca};
use crate::server::{self, Broker};

/// Backlog of a listener opened at a takeover (as `TcpListener::bind` gives).
const FILA_DE_ACEITE: u32 = 1024;

/// What a member is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Situacao {
    /// Standing by, its ports closed.
    Espera,
    /// Serving.
    Ativo {
        /// The epoch it took over in.
        epoca: i64,
        /// How long the cluster went without an active: from the previous active's last
        /// renewal until this one served (`None`: the cluster's first).
        lacuna: Option<Duration>,
    },
}

/// A running member of a cluster.
pub struct Membro {
    endereco: SocketAddr,
    endereco_web: Option<SocketAddr>,
    situacao: watch::Receiver<Situacao>,
    desligar: CancellationToken,
    tarefa: JoinHandle<()>,
}

impl Membro {
    /// Joins the cluster `config.cluster` on `config.banco` (PostgreSQL): reserves the ports
    /// (they stay closed while the member stands by) and starts competing for the lease.
    pub async fn iniciar(config: Config) -> io::Result<Membro> {
        let (Some(cluster), Some(url)) = (config.cluster.clone(), config.banco.clone()) else {
            return Err(io::Error::other(
                "um membro de cluster precisa de cluster e banco",
            ));
        };
        let falha = |erro: ErroBanco| {
            io::Error::other(format!(
                "banco ({}): {erro}",
                armazenamento::sem_senha(&url)
            ))
        };
        // A standby serves its metrics too: `fila_cluster_ativo` says which member is active.
        server::instalar_metricas(&config)?;
        indicadores::papel_no_cluster(None);
        // Migrates the schema, and says at once when the database is wrong.
        let banco = Banco::abrir_no_cluster(&url, cluster.prazo)
            .await
            .map_err(falha)?;
        if let Some(outro) = banco
            .clusters()
            .await
            .map_err(falha)?
            .into_iter()
            .find(|grupo| grupo.grupo != cluster.nome)
        {
            return Err(falha(ErroBanco::OutroCluster(outro.grupo)));
        }
        banco.fechar().await;
        let trava = Trava::abrir(&url, &cluster.nome, Some(cluster.prazo))
            .await
            .map_err(falha)?;
        let protocolo = Reserva::nova(config.escutar)?;
        let web = config.web.map(Reserva::nova).transpose()?;
        let (endereco, endereco_web) = (protocolo.endereco, web.as_ref().map(|w| w.endereco));
        let (situacao_tx, situacao) = watch::channel(Situacao::Espera);
        let desligar = CancellationToken::new();
        let executor = Executor {
            descricao: descrever(endereco, endereco_web),
            cluster,
            url,
            config,
            reservas: (protocolo, web),
            situacao: situacao_tx,
            desligar: desligar.clone(),
        };
        let tarefa = tokio::spawn(executor.executar(trava));
        Ok(Membro {
            endereco,
            endereco_web,
            situacao,
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
    pub fn situacao(&self) -> watch::Receiver<Situacao> {
        self.situacao.clone()
    }

    /// Leaves the cluster: a standby just goes; an active hands over (it stops serving without a
    /// goodbye, leaving the sessions in the journal, and lets go of the lease, so a standby
    /// takes over and the apps resume there).
    pub async fn parar(self) {
        self.desligar.cancel();
        let _ = self.tarefa.await;
    }
}

/// A port kept for the member while it stands by: bound, so that no program binding it plainly
/// takes it (one that sets `SO_REUSEADDR` may still), but not listening, so a connection to it
/// is refused at once and a client tries its next address.
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
        socket.listen(FILA_DE_ACEITE).map_err(|erro| {
            io::Error::new(
                erro.kind(),
                format!("não foi possível ouvir em {}: {erro}", self.endereco),
            )
        })
    }

    /// Binds the port again once the listener is gone (after a step-down).
    fn refazer(&mut self) {
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
    // The port is bound again after each step-down, while the old connections' TIME_WAIT last.
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
    situacao: watch::Sender<Situacao>,
    desligar: CancellationToken,
}

impl Executor {
    /// Stands by and serves, in turn, until told to stop.
    async fn executar(mut self, mut trava: Trava) {
        loop {
            let Some(vencedora) = self.esperar_a_vez(trava).await else {
                return;
            };
            self.tomar_posse(vencedora).await;
            let _ = self.situacao.send(Situacao::Espera);
            indicadores::papel_no_cluster(None);
            self.reservas.0.refazer();
            if let Some(web) = &mut self.reservas.1 {
                web.refazer();
            }
            // The others try first: a member that just lost its lease (or could not start)
            // is more likely the one in trouble.
            if !self.pausar(self.cluster.prazo).await {
                info!("membro do cluster encerrado");
                return;
            }
            match self.reconectar().await {
                Some(nova) => trava = nova,
                None => return,
            }
        }
    }

    /// A fifth of the lease's term: how often the lease is renewed and a standby tries for it.
    fn intervalo(&self) -> Duration {
        self.cluster.prazo / 5
    }

    /// Waits `duracao`; `false` when told to stop meanwhile (or before).
    async fn pausar(&self, duracao: Duration) -> bool {
        tokio::select! {
            _ = self.desligar.cancelled() => false,
            _ = tokio::time::sleep(duracao) => !self.desligar.is_cancelled(),
        }
    }

    /// Stands by until `trava` wins the lock; returns it. `None` when told to stop.
    async fn esperar_a_vez(&self, mut trava: Trava) -> Option<Trava> {
        let mut visto: Option<i64> = None;
        loop {
            match trava.tentar().await {
                Ok(true) => return Some(trava),
                Ok(false) => {
                    if let Ok(grupos) = trava.clusters().await {
                        anunciar_ativo(&mut visto, grupos.first());
                    }
                }
                Err(erro) => {
                    warn!(%erro, "sem contato com o banco do cluster; tentando de novo");
                    if !self.pausar(self.cluster.prazo).await {
                        return None;
                    }
                    trava = self.reconectar().await?;
                    continue;
                }
            }
            if !self.pausar(self.intervalo()).await {
                trava.largar().await;
                return None;
            }
        }
    }

    /// A fresh connection to compete for the lock with, retrying until the database answers;
    /// `None` when told to stop.
    async fn reconectar(&self) -> Option<Trava> {
        loop {
            match Trava::abrir(&self.url, &self.cluster.nome, Some(self.cluster.prazo)).await {
                Ok(trava) => return Some(trava),
                Err(erro) => warn!(%erro, "sem contato com o banco do cluster; tentando de novo"),
            }
            if !self.pausar(self.cluster.prazo).await {
                return None;
            }
        }
    }

    /// With the lock won: raises the epoch, restores the journal, opens the ports and serves,
    /// renewing the lease, until the mandate is lost or the member is told to stop; returns
    /// once the broker has stepped down and the lock is let go.
    async fn tomar_posse(&mut self, mut trava: Trava) {
        if self.desligar.is_cancelled() {
            trava.largar().await;
            return;
        }
        let posse = match trava.assumir(&self.descricao).await {
            Ok(posse) => posse,
            Err(erro) => {
                error!(%erro, "não foi possível assumir o cluster");
                trava.largar().await;
                return;
            }
        };
        let validade = self.cluster.prazo * 4 / 5;
        let mandato = Arc::new(Mandato::novo(
            self.cluster.nome.clone(),
            posse.epoca,
            posse.enviada_em.mais(validade),
        ));
        let renovacao = tokio::spawn(renovar(
            trava,
            Arc::clone(&mandato),
            (self.intervalo(), validade),
        ));
        // A lock freed early (the old active's connection cut) finds the old active still
        // serving until its next renewal fails: a fifth of a term after its last, and a margin.
        let resto = posse.silencio.map_or(Duration::ZERO, |silencio| {
            (self.cluster.prazo * 3 / 10).saturating_sub(silencio)
        });
        tokio::select! {
            _ = tokio::time::sleep(resto) => {}
            _ = mandato.perdido() => {}
            _ = self.desligar.cancelled() => mandato.renunciar(),
        }
        if mandato.vale() {
            self.servir(&mandato, &posse).await;
        }
        mandato.perder();
        // The lock goes once the broker has stopped writing.
        if let Ok(trava) = renovacao.await {
            trava.largar().await;
        }
    }

    /// Restores the journal, opens the ports and serves under `mandato` until it is lost or
    /// the member is told to stop (which hands over).
    async fn servir(&mut self, mandato: &Arc<Mandato>, posse: &armazenamento::lideranca::Posse) {
        let (protocolo, web) = (&mut self.reservas.0, &mut self.reservas.1);
        let ouvir = || {
            let web = web.as_mut().map(Reserva::abrir).transpose()?;
            Ok((protocolo.abrir()?, web))
        };
        let broker = match Broker::assumir(self.config.clone(), Arc::clone(mandato), ouvir).await {
            Ok(broker) => broker,
            Err(erro) => {
                error!(%erro, "não foi possível servir depois de assumir o cluster");
                return;
            }
        };
        if mandato.vale() {
            let lacuna = posse.silencio.map(|s| s + posse.enviada_em.passado());
            info!(
                cluster = %self.cluster.nome,
                epoca = posse.epoca,
                lacuna_ms = lacuna.map_or_else(|| "-".into(), |l| l.as_millis().to_string()),
                "assumiu o atendimento: sessões restauradas do diário, portas abertas"
            );
            let epoca = posse.epoca;
            let _ = self.situacao.send(Situacao::Ativo { epoca, lacuna });
            indicadores::papel_no_cluster(Some(posse.epoca));
        }
        tokio::select! {
            _ = mandato.perdido() => {}
            _ = self.desligar.cancelled() => {
                info!("passando o atendimento a outro membro do cluster");
                mandato.renunciar();
            }
        }
        broker.terminado().await;
        if !mandato.renunciado() {
            warn!(epoca = posse.epoca, "deixou de ser o ativo: em espera");
        }
    }
}

/// Logs the cluster's active when it is a different one from the last seen (by epoch).
fn anunciar_ativo(visto: &mut Option<i64>, grupo: Option<&Grupo>) {
    let Some(grupo) = grupo else { return };
    if *visto != Some(grupo.epoca) {
        info!(
            ativo = %grupo.ativo,
            epoca = grupo.epoca,
            ultimo_sinal_ms = grupo.silencio_ms,
            "em espera: outro broker é o ativo"
        );
    }
    *visto = Some(grupo.epoca);
}

/// Renews the lease every `intervalo`, extending `mandato` to `validade` after each renewal's
/// start, until the mandate is lost (by a failed renewal, another epoch, the term running out,
/// or the member handing over). Gives the lock's connection back.
async fn renovar(
    mut trava: Trava,
    mandato: Arc<Mandato>,
    (intervalo, validade): (Duration, Duration),
) -> Trava {
    loop {
        tokio::select! {
            _ = mandato.perdido() => return trava,
            _ = tokio::time::sleep(intervalo) => {}
        }
        let inicio = Marca::agora();
        let prazo = Instant::now() + mandato.restante();
        match tokio::time::timeout_at(prazo, trava.renovar(mandato.epoca)).await {
            Ok(Ok(true)) => mandato.prorrogar(inicio.mais(validade)),
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
