//! Every limit, deadline and interval of the broker, with the defaults a help desk starts from.
//!
//! The binary fills a [`Config`] from its command line; tests build one with shorter intervals.
//! README's "Limites e segurança" lists the same defaults for operators.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use proto::tls::rustls::ServerConfig;
use proto::validacao::{NOME_MAXIMO, TEXTO_MAXIMO};
use proto::{ENDERECO_PADRAO, TAMANHO_MAXIMO_QUADRO};

use crate::armazenamento;
use crate::matchmaking::Parametros;

/// The broker's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to accept connections on.
    pub escutar: SocketAddr,
    /// Largest frame body accepted or sent, in bytes.
    pub tamanho_maximo_quadro: usize,
    /// Most characters in a name or department name.
    pub nome_maximo: usize,
    /// Most bytes in a chat text.
    pub texto_maximo: usize,
    /// How long a new connection has to send its handshake.
    pub prazo_apresentacao: Duration,
    /// How often changed positions are sent to waiting customers (rule 5's tick).
    pub intervalo_fila: Duration,
    /// How often the broker pings each peer; a peer silent for two intervals is dropped.
    pub intervalo_batimento: Duration,
    /// Most open connections in all; more are refused with `LimiteDeConexoes`.
    pub conexoes_maximas: usize,
    /// Most open connections from one IP address.
    pub conexoes_por_endereco: usize,
    /// Frames per second a session may send, on average (heartbeat answers and acknowledgements
    /// aside); a session over it is read more slowly, never refused.
    pub mensagens_por_segundo: u32,
    /// Frames a session may send at once before the rate applies.
    pub rajada_de_mensagens: u32,
    /// Most customers waiting in one department.
    pub fila_maxima: usize,
    /// Most chats an agent is given at once, whatever it asks for (1 to
    /// [`proto::CAPACIDADE_MAXIMA`]).
    pub capacidade_maxima: u8,
    /// How long an agent has to send its first line in a new chat before the customer goes to
    /// another agent and the agent is paused; zero turns it off.
    pub prazo_resposta: Duration,
    /// How long a customer whose agent ended the chat has to rate it; zero asks for no rating.
    pub prazo_avaliacao: Duration,
    /// The departments served (normalized, in the order given; the first is the default);
    /// empty: any valid name is a department.
    pub departamentos: Vec<String>,
    /// The history's database URL (`sqlite://...` or `postgres://...`); `None` keeps no history.
    pub banco: Option<String>,
    /// Agent credentials; an agent's handshake must carry one of them.
    pub tokens_atendente: Vec<String>,
    /// Supervisor credentials; a supervisor's handshake must carry one of them (none: no
    /// supervisor may connect).
    pub tokens_supervisor: Vec<String>,
    /// Where to serve the Prometheus metrics (`None`: not served). Once per process.
    pub metricas: Option<SocketAddr>,
    /// The service-level target: a customer answered within it counts as answered in time.
    pub meta_servico: Duration,
    /// How often a supervisor is sent the panel.
    pub intervalo_painel: Duration,
    /// Where to serve the web page, the widget and the protocol over WebSocket (`None`: not
    /// served).
    pub web: Option<SocketAddr>,
    /// Origins (`https://loja.example`, lowercase, no path) besides the broker's own whose
    /// pages may connect over WebSocket and frame the chat page.
    pub origens: Vec<String>,
    /// TLS, when the broker serves it (certificate and key loaded); plain TCP otherwise.
    pub tls: Option<Arc<ServerConfig>>,
    /// Failed agent logins from one address, within [`Config::janela_de_falhas`], after which
    /// that address may not log in as an agent until the window passes.
    pub falhas_de_autenticacao: u32,
    /// The window for [`Config::falhas_de_autenticacao`].
    pub janela_de_falhas: Duration,
    /// Frames that may wait to be written to one peer; a peer that lets more pile up is a slow
    /// consumer and is disconnected.
    pub capacidade_saida: usize,
    /// Commands that may wait for the actor before connections wait to hand in more.
    pub capacidade_comandos: usize,
    /// On shutdown, how long connections get to flush their last frames before they are cut.
    pub prazo_encerramento: Duration,
    /// When closing a connection, how long to keep reading (and discarding) what the peer still
    /// sends, so the peer reads our last frames instead of a reset.
    pub prazo_fechamento: Duration,
    /// How long a session whose connection dropped is kept for its peer to resume it (its place
    /// in line, its chat); zero turns resuming off, so a drop counts as leaving at once.
    pub tolerancia_retomada: Duration,
    /// The cluster this broker is a member of (PostgreSQL only); `None`: it serves on its own.
    pub cluster: Option<Cluster>,
}

/// Membership of a cluster: brokers on one PostgreSQL database with the same name elect one
/// active among them (see [`crate::cluster`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    /// The cluster's name.
    pub nome: String,
    /// The lease's term: an active not heard from for this long is replaced, and one that could
    /// not renew its lease for this long stops serving.
    pub prazo: Duration,
}

/// The lease's term when none is given: a standby takes over within about this long.
pub const PRAZO_DO_CLUSTER: Duration = Duration::from_secs(5);

impl Default for Config {
    fn default() -> Self {
        Config {
            escutar: ENDERECO_PADRAO
                .parse()
                .expect("the default address is a valid socket address"),
            tamanho_maximo_quadro: TAMANHO_MAXIMO_QUADRO,
            nome_maximo: NOME_MAXIMO,
            texto_maximo: TEXTO_MAXIMO,
            prazo_apresentacao: Duration::from_secs(10),
            intervalo_fila: Duration::from_millis(100),
            intervalo_batimento: Duration::from_secs(15),
            conexoes_maximas: 100_000,
            conexoes_por_endereco: 256,
            mensagens_por_segundo: 10,
            rajada_de_mensagens: 20,
            fila_maxima: 100_000,
            capacidade_maxima: proto::CAPACIDADE_MAXIMA,
            prazo_resposta: Duration::from_secs(120),
            departamentos: Vec::new(),
            prazo_avaliacao: Duration::from_secs(120),
            banco: None,
            tokens_atendente: Vec::new(),
            tokens_supervisor: Vec::new(),
            metricas: None,
            meta_servico: Duration::from_secs(20),
            intervalo_painel: Duration::from_secs(1),
            web: None,
            origens: Vec::new(),
            tls: None,
            falhas_de_autenticacao: 5,
            janela_de_falhas: Duration::from_secs(60),
            capacidade_saida: 1024,
            capacidade_comandos: 8192,
            prazo_encerramento: Duration::from_secs(5),
            prazo_fechamento: Duration::from_secs(2),
            tolerancia_retomada: Duration::from_secs(60),
            cluster: None,
        }
    }
}

impl Config {
    /// The limits the state machine enforces.
    pub fn parametros(&self) -> Parametros {
        Parametros {
            fila_maxima: self.fila_maxima,
            nome_maximo: self.nome_maximo,
            texto_maximo: self.texto_maximo,
            batimento_ms: u64::try_from(self.intervalo_batimento.as_millis()).unwrap_or(u64::MAX),
            historico: false,
            ultima_conversa: 0,
            tolerancia: self.tolerancia_retomada,
            diario: false,
            ritmo: (self.mensagens_por_segundo, self.rajada_de_mensagens),
            capacidade_maxima: usize::from(self.capacidade_maxima),
            prazo_resposta: self.prazo_resposta,
            departamentos: self.departamentos.clone(),
            prazo_avaliacao: self.prazo_avaliacao,
            medidas: true,
        }
    }

    /// Checks that the settings fit together; says what is wrong, in Portuguese.
    pub fn validar(&self) -> Result<(), String> {
        // A relayed chat frame carries the text, the sender's name (up to 4 bytes a
        // character) and a few bytes of framing; it must fit in a frame.
        let maior_quadro = self.texto_maximo + 4 * self.nome_maximo.max(8) + 32;
        if maior_quadro > self.tamanho_maximo_quadro {
            return Err(format!(
                "o quadro máximo ({} bytes) não comporta uma mensagem de {} bytes com um nome de \
                 {} caracteres; aumente o quadro ou diminua os limites",
                self.tamanho_maximo_quadro, self.texto_maximo, self.nome_maximo
            ));
        }
        let positivos = [
            ("--nome-maximo", self.nome_maximo),
            ("--texto-maximo", self.texto_maximo),
            ("--conexoes-maximas", self.conexoes_maximas),
            ("--conexoes-por-endereco", self.conexoes_por_endereco),
            ("--fila-maxima", self.fila_maxima),
            ("--capacidade-maxima", usize::from(self.capacidade_maxima)),
            ("--capacidade-saida", self.capacidade_saida),
            (
                "--mensagens-por-segundo",
                self.mensagens_por_segundo as usize,
            ),
            ("--rajada", self.rajada_de_mensagens as usize),
        ];
        if let Some((nome, _)) = positivos.iter().find(|(_, valor)| *valor == 0) {
            return Err(format!("{nome} precisa ser maior que zero"));
        }
        if self.meta_servico.is_zero() {
            return Err("--meta precisa ser maior que zero".into());
        }
        if self.intervalo_batimento.is_zero()
            || self.intervalo_fila.is_zero()
            || self.intervalo_painel.is_zero()
        {
            return Err("os intervalos precisam ser maiores que zero".into());
        }
        match &self.cluster {
            Some(cluster) => self.validar_cluster(cluster),
            None => Ok(()),
        }
    }

    /// Checks that a cluster member can hand its sessions over.
    fn validar_cluster(&self, cluster: &Cluster) -> Result<(), String> {
        // Below that, a moment's stall of the machine would end the active's transactions.
        if cluster.prazo < Duration::from_secs(1) {
            return Err("--prazo-lideranca precisa ser de pelo menos 1s".into());
        }
        if !self.banco.as_deref().is_some_and(armazenamento::e_postgres) {
            return Err(armazenamento::SEM_POSTGRES.into());
        }
        // The apps notice a silent active after two heartbeats, and a standby takes over
        // within about a term: the sessions must still be there when they come back.
        let necessaria = self.intervalo_batimento * 2 + cluster.prazo * 2;
        if self.tolerancia_retomada < necessaria {
            return Err(format!(
                "num cluster, --tolerancia-retomada ({}) precisa ser ao menos {} (dois \
                 --batimento e dois --prazo-lideranca): é o tempo que os aplicativos têm para \
                 perceber a queda e retomar no broker que assume",
                humantime::format_duration(self.tolerancia_retomada),
                humantime::format_duration(necessaria)
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn membro(banco: &str) -> Config {
        Config {
            banco: Some(banco.into()),
            cluster: Some(Cluster {
                nome: "loja".into(),
                prazo: PRAZO_DO_CLUSTER,
            }),
            ..Config::default()
        }
    }

    #[test]
    fn um_cluster_precisa_de_postgres_e_de_retomadas() {
        assert_eq!(membro("postgres://fila@db/fila").validar(), Ok(()));
        let sqlite = membro("sqlite:///var/lib/fila/historico.db").validar();
        assert!(sqlite.is_err_and(|erro| erro.contains("PostgreSQL")));
        let sem_banco = Config {
            banco: None,
            ..membro("postgres://fila@db/fila")
        };
        assert!(sem_banco.validar().is_err());
        let curta = Config {
            tolerancia_retomada: Duration::from_secs(39),
            ..membro("postgres://fila@db/fila")
        };
        assert!(
            curta
                .validar()
                .is_err_and(|erro| erro.contains("--tolerancia-retomada"))
        );
    }
}
