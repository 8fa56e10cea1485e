//! The conversation history: every conversation and every chat line, kept in a database.
//!
//! SQLite is the default (a file in the broker's data directory, created on first start);
//! PostgreSQL serves larger sites. Both go through sqlx's `Any` driver with one schema and one
//! set of migrations (`broker/migrations`), written in SQL both understand.
//!
//! The actor hands the [`Registro`]s of each event to a [`Gravador`] as one numbered lot, and a
//! writer task stores whatever lots are queued in one transaction, then says up to which lot
//! is stored (the actor holds back frames until the records of their event are stored, when
//! the journal is on). Nothing is dropped and the actor never waits on the disk: when the
//! writer is a whole queue behind, the actor keeps the lots (in order) until there is room. The
//! same [`Historico`] answers the `broker conversas` and `broker conversa ID` commands.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proto::{ANTERIORES_MAXIMO, Anterior, MotivoFim, SessaoId};
use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use thiserror::Error;
use tokio::sync::mpsc::{self, error::TrySendError};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, error};

use crate::actor::Comando;
use crate::diario::Anotacoes;
use crate::matchmaking::Registro;

/// The SQLite file's name inside the data directory.
pub const ARQUIVO: &str = "historico.db";

/// Lots of records that may wait for the writer before the actor waits for room.
pub const CAPACIDADE_GRAVADOR: usize = 65_536;

/// Lookups of earlier conversations that may wait before new ones are dropped.
const CAPACIDADE_CONSULTAS: usize = 4096;

/// Most records written in one transaction.
const LOTE_MAXIMO: usize = 1024;

/// A [`Conversa`] per row of `conversas c`, with its line count; callers add the `WHERE`.
const SELECIONAR_CONVERSAS: &str = "SELECT c.id, c.departamento, c.cliente, c.atendente, c.entrou_em, c.conectada_em, \
     c.encerrada_em, c.motivo, \
     (SELECT COUNT(*) FROM mensagens m WHERE m.conversa = c.id) AS mensagens \
     FROM conversas c";

/// Why the history could not be opened, read or written.
#[derive(Debug, Error)]
pub enum ErroHistorico {
    /// The database refused or failed.
    #[error("banco de dados: {0}")]
    Banco(#[from] sqlx::Error),
    /// The schema could not be brought up to date.
    #[error("migração do banco de dados: {0}")]
    Migracao(#[from] sqlx::migrate::MigrateError),
    /// The data directory could not be created.
    #[error("pasta de dados: {0}")]
    Pasta(#[from] std::io::Error),
    /// An in-memory SQLite database: each connection would see a database of its own, and
    /// nothing would outlive the broker anyway.
    #[error(
        "um banco SQLite em memória não serve ao broker (some com ele, e cada conexão veria um \
         banco diferente); use --sem-banco para não gravar nada, ou um arquivo: \
         sqlite:///caminho/historico.db"
    )]
    EmMemoria,
}

/// The default database: a SQLite file in the data directory (created when missing).
pub fn url_padrao(dados: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dados.join(ARQUIVO).display())
}

/// An open history database.
#[derive(Debug, Clone)]
pub struct Historico {
    /// The connections to the database.
    pub(crate) pool: AnyPool,
}

/// One conversation as the history holds it. Times are milliseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Conversa {
    /// The conversation id.
    pub id: i64,
    /// The customer's department.
    pub departamento: String,
    /// The customer's name.
    pub cliente: String,
    /// The agent's name.
    pub atendente: String,
    /// When the customer joined the line.
    pub entrou_em: i64,
    /// When the chat started.
    pub conectada_em: i64,
    /// When it ended (`None` while open).
    pub encerrada_em: Option<i64>,
    /// Why it ended ([`nome_do_motivo`]), when it has.
    pub motivo: Option<String>,
    /// Chat lines in it.
    pub mensagens: i64,
}

/// One chat line as the history holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Mensagem {
    /// Its order in the conversation, from 1.
    pub seq: i64,
    /// `cliente` or `atendente`.
    pub papel: String,
    /// The sender's name.
    pub autor: String,
    /// The text.
    pub texto: String,
    /// When it was relayed (milliseconds since the Unix epoch).
    pub enviada_em: i64,
}

/// Which conversations to list.
#[derive(Debug, Clone, Default)]
pub struct Filtro {
    /// Started at or after this time (ms since the epoch).
    pub desde: Option<i64>,
    /// Started before this time (ms since the epoch).
    pub ate: Option<i64>,
    /// In this department.
    pub departamento: Option<String>,
    /// Served by this agent.
    pub atendente: Option<String>,
    /// With this customer.
    pub cliente: Option<String>,
    /// With an id below this one (conversation ids grow with time).
    pub antes_de: Option<i64>,
    /// At most this many (the most recent).
    pub limite: i64,
}

impl Historico {
    /// Opens (creating, for SQLite) the database at `url` and brings its schema up to date.
    pub async fn abrir(url: &str) -> Result<Historico, ErroHistorico> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            return Err(ErroHistorico::EmMemoria);
        }
        if sqlite && let Some(pasta) = pasta_do_sqlite(url) {
            std::fs::create_dir_all(pasta)?;
        }
        // SQLite: one connection writes, one answers lookups (WAL lets it read meanwhile).
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 2 } else { 4 })
            .connect(url)
            .await?;
        if sqlite {
            // Readers (`broker conversas`) never block the broker's writer. In WAL mode,
            // synchronous = NORMAL keeps every commit through a crash of the broker (the log is
            // in the operating system's hands); only a crash of the machine itself can lose
            // the last commits. It saves an fsync per batch.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&pool)
                .await?;
        }
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Historico { pool })
    }

    /// The highest conversation id stored (0 when there is none).
    pub async fn ultima_conversa(&self) -> Result<u64, ErroHistorico> {
        let (maior,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM conversas")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(maior).unwrap_or(0))
    }

    /// The conversations that pass `filtro`, oldest first (the most recent `filtro.limite`).
    pub async fn conversas(&self, filtro: &Filtro) -> Result<Vec<Conversa>, ErroHistorico> {
        let mut sql = format!("{SELECIONAR_CONVERSAS} WHERE 1 = 1");
        let mut n = 0;
        let mut proximo = || {
            n += 1;
            format!("${n}")
        };
        if filtro.desde.is_some() {
            sql += &format!(" AND c.conectada_em >= {}", proximo());
        }
        if filtro.ate.is_some() {
            sql += &format!(" AND c.conectada_em < {}", proximo());
        }
        if filtro.departamento.is_some() {
            sql += &format!(" AND c.departamento = {}", proximo());
        }
        if filtro.atendente.is_some() {
            sql += &format!(" AND c.atendente = {}", proximo());
        }
        if filtro.cliente.is_some() {
            sql += &format!(" AND c.cliente = {}", proximo());
        }
        if filtro.antes_de.is_some() {
            sql += &format!(" AND c.id < {}", proximo());
        }
        sql += &format!(
            " ORDER BY c.conectada_em DESC, c.id DESC LIMIT {}",
            proximo()
        );
        let mut consulta = sqlx::query_as::<_, Conversa>(&sql);
        for tempo in [filtro.desde, filtro.ate].into_iter().flatten() {
            consulta = consulta.bind(tempo);
        }
        for texto in [&filtro.departamento, &filtro.atendente, &filtro.cliente]
            .into_iter()
            .flatten()
        {
            consulta = consulta.bind(texto.clone());
        }
        if let Some(id) = filtro.antes_de {
            consulta = consulta.bind(id);
        }
        let mut conversas = consulta.bind(filtro.limite).fetch_all(&self.pool).await?;
        conversas.reverse();
        Ok(conversas)
    }

    /// One conversation and its lines in order, if it exists.
    pub async fn transcricao(
        &self,
        id: i64,
    ) -> Result<Option<(Conversa, Vec<Mensagem>)>, ErroHistorico> {
        let sql = format!("{SELECIONAR_CONVERSAS} WHERE c.id = $1");
        let conversa = sqlx::query_as::<_, Conversa>(&sql)
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(conversa) = conversa else {
            return Ok(None);
        };
        let mensagens = sqlx::query_as::<_, Mensagem>(
            "SELECT seq, papel, autor, texto, enviada_em FROM mensagens \
             WHERE conversa = $1 ORDER BY seq",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some((conversa, mensagens)))
    }

    /// `cliente`'s most recent conversations before `conversa`, newest first, as the protocol's
    /// `Anterior`s.
    pub async fn anteriores(
        &self,
        cliente: &str,
        conversa: u64,
    ) -> Result<Vec<Anterior>, ErroHistorico> {
        let filtro = Filtro {
            cliente: Some(cliente.to_owned()),
            antes_de: Some(id_do_banco(conversa)),
            limite: i64::try_from(ANTERIORES_MAXIMO).unwrap_or(i64::MAX),
            ..Filtro::default()
        };
        let mut conversas = self.conversas(&filtro).await?;
        conversas.reverse();
        Ok(conversas
            .into_iter()
            .map(|anterior| Anterior {
                conversa: u64::try_from(anterior.id).unwrap_or(0),
                inicio_ms: u64::try_from(anterior.conectada_em).unwrap_or(0),
                departamento: anterior.departamento,
                atendente: anterior.atendente,
                motivo: anterior.motivo.as_deref().and_then(motivo_do_nome),
                mensagens: u32::try_from(anterior.mensagens).unwrap_or(u32::MAX),
            })
            .collect())
    }

    /// Stores a batch of records in one transaction: the chats it starts, then its lines, then
    /// its ends (so a line never precedes its conversation), with multi-row inserts so that a
    /// batch costs a few round trips to the database rather than one per record. `seqs` numbers
    /// each conversation's lines (the writer keeps it across batches).
    async fn gravar(
        &self,
        lote: &[Registro],
        base_ms: i64,
        seqs: &mut HashMap<u64, i64>,
    ) -> Result<(), ErroHistorico> {
        let mut inicios = Vec::new();
        let mut linhas = Vec::new();
        let mut fins = Vec::new();
        let mut anotacoes = Anotacoes::default();
        for registro in lote
            .iter()
            .filter_map(|registro| anotacoes.anotar(registro))
        {
            let ms = |uptime: &Duration| base_ms + i64::try_from(uptime.as_millis()).unwrap_or(0);
            match registro {
                Registro::Inicio {
                    conversa,
                    departamento,
                    cliente,
                    atendente,
                    entrou_em,
                    conectada_em,
                } => inicios.push((
                    id_do_banco(*conversa),
                    departamento,
                    cliente,
                    atendente,
                    ms(entrou_em),
                    ms(conectada_em),
                )),
                Registro::Mensagem {
                    conversa,
                    seq: seq_remetente,
                    do_atendente,
                    autor,
                    texto,
                    em,
                } => {
                    let seq = seqs.entry(*conversa).or_insert(0);
                    *seq += 1;
                    let papel = if *do_atendente {
                        "atendente"
                    } else {
                        "cliente"
                    };
                    linhas.push((
                        id_do_banco(*conversa),
                        *seq,
                        papel,
                        autor,
                        texto,
                        ms(em),
                        i64::try_from(*seq_remetente).unwrap_or(i64::MAX),
                    ));
                }
                Registro::Fim {
                    conversa,
                    motivo,
                    em,
                } => {
                    seqs.remove(conversa);
                    fins.push((id_do_banco(*conversa), nome_do_motivo(*motivo), ms(em)));
                }
                Registro::Sessao(_) | Registro::SessaoSaiu { .. } | Registro::SemSessoes => {}
            }
        }
        let mut transacao = self.pool.begin().await?;
        for parte in em_partes(&inicios) {
            let sql = insert_de_varias_linhas(
                "INSERT INTO conversas \
                 (id, departamento, cliente, atendente, entrou_em, conectada_em) VALUES ",
                6,
                parte.len(),
            );
            let mut consulta = sqlx::query(&sql);
            for (id, departamento, cliente, atendente, entrou_em, conectada_em) in parte {
                consulta = consulta
                    .bind(*id)
                    .bind((*departamento).clone())
                    .bind((*cliente).clone())
                    .bind((*atendente).clone())
                    .bind(*entrou_em)
                    .bind(*conectada_em);
            }
            consulta.execute(&mut *transacao).await?;
        }
        for parte in em_partes(&linhas) {
            let sql = insert_de_varias_linhas(
                "INSERT INTO mensagens \
                 (conversa, seq, papel, autor, texto, enviada_em, seq_remetente) VALUES ",
                7,
                parte.len(),
            );
            let mut consulta = sqlx::query(&sql);
            for (conversa, seq, papel, autor, texto, em, seq_remetente) in parte {
                consulta = consulta
                    .bind(*conversa)
                    .bind(*seq)
                    .bind(*papel)
                    .bind((*autor).clone())
                    .bind((*texto).clone())
                    .bind(*em)
                    .bind(*seq_remetente);
            }
            consulta.execute(&mut *transacao).await?;
        }
        // One statement per part, not per conversation: on PostgreSQL each is a round trip.
        // (A VALUES list names its columns column1, column2, ... in both databases.)
        for parte in em_partes(&fins) {
            let sql = insert_de_varias_linhas(
                "UPDATE conversas SET encerrada_em = v.column2, motivo = v.column3 FROM (VALUES ",
                3,
                parte.len(),
            ) + ") AS v WHERE conversas.id = v.column1";
            let mut consulta = sqlx::query(&sql);
            for (conversa, motivo, em) in parte {
                consulta = consulta.bind(*conversa).bind(*em).bind(*motivo);
            }
            consulta.execute(&mut *transacao).await?;
        }
        anotacoes.gravar(&mut transacao, base_ms).await?;
        transacao.commit().await?;
        Ok(())
    }
}

/// Rows per multi-row insert. Only these sizes are used, so that the few statements they make
/// stay prepared in sqlx's statement cache (SQLite pays to prepare a new one; PostgreSQL pays a
/// round trip per statement). 7 parameters a row stays far under both databases' limits.
const TAMANHOS_DE_INSERT: [usize; 5] = [256, 64, 16, 4, 1];

/// Splits `linhas` into consecutive parts whose lengths are all in [`TAMANHOS_DE_INSERT`].
pub(crate) fn em_partes<T>(mut linhas: &[T]) -> Vec<&[T]> {
    let mut partes = Vec::new();
    for tamanho in TAMANHOS_DE_INSERT {
        while linhas.len() >= tamanho {
            let (parte, resto) = linhas.split_at(tamanho);
            partes.push(parte);
            linhas = resto;
        }
    }
    partes
}

/// `inicio` followed by `linhas` groups of `colunas` numbered parameters: `($1, $2), ($3, $4)`.
pub(crate) fn insert_de_varias_linhas(inicio: &str, colunas: usize, linhas: usize) -> String {
    let mut sql = String::from(inicio);
    for linha in 0..linhas {
        if linha > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for coluna in 0..colunas {
            if coluna > 0 {
                sql.push_str(", ");
            }
            sql.push_str(&format!("${}", linha * colunas + coluna + 1));
        }
        sql.push(')');
    }
    sql
}

/// A database URL fit to print: any password in it replaced by `***`.
pub fn sem_senha(url: &str) -> String {
    let Some((esquema, resto)) = url.split_once("://") else {
        return url.to_owned();
    };
    let Some((credenciais, endereco)) = resto.split_once('@') else {
        return url.to_owned();
    };
    match credenciais.split_once(':') {
        Some((usuario, _)) => format!("{esquema}://{usuario}:***@{endereco}"),
        None => url.to_owned(),
    }
}

/// The folder of a `sqlite://PATH?...` URL's file, if it names one.
fn pasta_do_sqlite(url: &str) -> Option<&Path> {
    let caminho = url.strip_prefix("sqlite://")?.split('?').next()?;
    Path::new(caminho)
        .parent()
        .filter(|pasta| !pasta.as_os_str().is_empty())
}

/// An id (conversation or session) as the database stores it.
pub(crate) fn id_do_banco(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Now, in milliseconds since the Unix epoch (how the database keeps times).
pub(crate) fn agora_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|desde| i64::try_from(desde.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The time since the epoch, in milliseconds, of the broker's uptime zero `inicio`.
pub(crate) fn base_ms(inicio: Instant) -> i64 {
    agora_ms() - i64::try_from(inicio.elapsed().as_millis()).unwrap_or(0)
}

/// How an end reason is stored.
pub fn nome_do_motivo(motivo: MotivoFim) -> &'static str {
    match motivo {
        MotivoFim::ClienteSaiu => "cliente_saiu",
        MotivoFim::ClienteDesconectou => "cliente_desconectou",
        MotivoFim::AtendenteEncerrou => "atendente_encerrou",
        MotivoFim::AtendenteSaiu => "atendente_saiu",
        MotivoFim::AtendenteDesconectou => "atendente_desconectou",
        MotivoFim::BrokerEncerrando => "broker_encerrando",
    }
}

/// What the writer task is asked to do, in order.
#[derive(Debug)]
enum Trabalho {
    /// Store the records of one event, all in the same transaction.
    Gravar {
        /// The records.
        registros: Vec<Registro>,
        /// The lot's number; the writer reports the highest it has stored.
        lote: u64,
    },
    /// Look up a customer's earlier conversations and answer the actor.
    Anteriores {
        /// The agent to tell.
        para: SessaoId,
        /// The customer's name.
        cliente: String,
        /// The chat that just started (left out of the answer).
        conversa: u64,
    },
}

/// A lot of records the writer had no room for yet; [`Gravador::esperar`] delivers it.
#[derive(Debug)]
pub struct Lote(Trabalho);

/// Room for one lot in the writer's queue ([`Gravador::vaga`]).
#[derive(Debug)]
pub struct Vaga(mpsc::OwnedPermit<Trabalho>);

impl Vaga {
    /// Delivers `lote` into the room.
    pub fn entregar(self, lote: Lote) {
        self.0.send(lote.0);
    }
}

impl Lote {
    /// The records of one event as lot `lote`, to be delivered with [`Gravador::esperar`].
    pub fn new(registros: Vec<Registro>, lote: u64) -> Lote {
        Lote(Trabalho::Gravar { registros, lote })
    }
}

/// The actor's side of the history: hands work to the writer.
#[derive(Debug, Clone)]
pub struct Gravador {
    trabalhos: mpsc::Sender<Trabalho>,
}

impl Gravador {
    /// Queues the records of one event as lot `lote`; gives them back when the writer is a
    /// whole queue behind (then [`Gravador::esperar`] must deliver them, before any later lot).
    pub fn gravar(&self, registros: Vec<Registro>, lote: u64) -> Result<(), Lote> {
        match self
            .trabalhos
            .try_send(Trabalho::Gravar { registros, lote })
        {
            Ok(()) | Err(TrySendError::Closed(_)) => Ok(()),
            Err(TrySendError::Full(trabalho)) => Err(Lote(trabalho)),
        }
    }

    /// Waits for room in the writer's queue and delivers `lote`.
    pub async fn esperar(&self, lote: Lote) {
        let _ = self.trabalhos.send(lote.0).await;
    }

    /// Waits for room in the writer's queue, for a lot to be delivered later without waiting;
    /// `None` once the writer is gone.
    pub async fn vaga(self) -> Option<Vaga> {
        self.trabalhos.reserve_owned().await.ok().map(Vaga)
    }

    /// Asks for `cliente`'s conversations before `conversa`, to be sent to the agent `para`
    /// (through the actor). Dropped when the writer is a whole queue behind: it is advice.
    pub fn consultar_anteriores(&self, para: SessaoId, cliente: String, conversa: u64) {
        let trabalho = Trabalho::Anteriores {
            para,
            cliente,
            conversa,
        };
        if self.trabalhos.try_send(trabalho).is_err() {
            debug!("consulta de atendimentos anteriores descartada: histórico atrasado");
        }
    }
}

/// The stored name of an end reason, back as the reason.
pub fn motivo_do_nome(nome: &str) -> Option<MotivoFim> {
    [
        MotivoFim::ClienteSaiu,
        MotivoFim::ClienteDesconectou,
        MotivoFim::AtendenteEncerrou,
        MotivoFim::AtendenteSaiu,
        MotivoFim::AtendenteDesconectou,
        MotivoFim::BrokerEncerrando,
    ]
    .into_iter()
    .find(|motivo| nome_do_motivo(*motivo) == nome)
}

/// Starts the writer task for `historico`, with `inicio` as the actor's uptime zero; answers
/// to lookups go to the actor's inbox `ator`. The returned watch holds the highest lot stored
/// (or given up on after a database error, which is logged). The task ends, after storing
/// everything queued, when every [`Gravador`] is dropped.
pub fn iniciar_gravador(
    historico: Historico,
    inicio: Instant,
    ator: mpsc::Sender<Comando>,
) -> (Gravador, watch::Receiver<u64>, JoinHandle<()>) {
    let base_ms = base_ms(inicio);
    let (tx, mut rx) = mpsc::channel(CAPACIDADE_GRAVADOR);
    let (gravados_tx, gravados_rx) = watch::channel(0);
    let (consultor, mut consultas_rx) =
        mpsc::channel::<(SessaoId, String, u64)>(CAPACIDADE_CONSULTAS);
    let leitor = historico.clone();
    tokio::spawn(async move {
        while let Some((para, cliente, conversa)) = consultas_rx.recv().await {
            match leitor.anteriores(&cliente, conversa).await {
                Ok(conversas) => {
                    let _ = ator.try_send(Comando::Anteriores {
                        para,
                        conversa,
                        conversas,
                    });
                }
                Err(erro) => error!(%erro, "não foi possível consultar o histórico"),
            }
        }
    });
    let tarefa = tokio::spawn(async move {
        // Conversations left open by a broker that was killed go on numbering their lines.
        let mut seqs = historico.seqs_das_abertas().await.unwrap_or_else(|erro| {
            error!(%erro, "não foi possível ler as conversas abertas do histórico");
            HashMap::new()
        });
        let mut lote = Vec::with_capacity(LOTE_MAXIMO);
        let mut registros = Vec::with_capacity(LOTE_MAXIMO);
        let mut consultas = Vec::new();
        while rx.recv_many(&mut lote, LOTE_MAXIMO).await > 0 {
            let mut ultimo = None;
            for trabalho in lote.drain(..) {
                match trabalho {
                    Trabalho::Gravar {
                        registros: do_evento,
                        lote,
                    } => {
                        registros.extend(do_evento);
                        ultimo = Some(lote);
                    }
                    Trabalho::Anteriores {
                        para,
                        cliente,
                        conversa,
                    } => consultas.push((para, cliente, conversa)),
                }
            }
            // The whole batch in one transaction first, so the lookups see every conversation
            // that came before theirs (they ask only for ids below their own).
            if !registros.is_empty()
                && let Err(erro) = historico.gravar(&registros, base_ms, &mut seqs).await
            {
                error!(%erro, registros = registros.len(), "não foi possível gravar no histórico");
            }
            registros.clear();
            if let Some(ultimo) = ultimo {
                gravados_tx.send_replace(ultimo);
            }
            // Lookups go to a task of their own, on another connection, so they never hold up
            // the writing. When it is this far behind, a lookup is dropped: it is advice.
            for consulta in consultas.drain(..) {
                if consultor.try_send(consulta).is_err() {
                    debug!("consulta de atendimentos anteriores descartada: histórico atrasado");
                }
            }
        }
    });
    (Gravador { trabalhos: tx }, gravados_rx, tarefa)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_de_varias_linhas_numera_os_parametros_em_ordem() {
        assert_eq!(
            insert_de_varias_linhas("INSERT INTO t (a, b) VALUES ", 2, 3),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4), ($5, $6)"
        );
    }

    #[test]
    fn partes_de_tamanhos_fixos_e_em_ordem() {
        let linhas: Vec<usize> = (0..343).collect();
        let partes = em_partes(&linhas);
        let tamanhos: Vec<usize> = partes.iter().map(|p| p.len()).collect();
        assert_eq!(tamanhos, [256, 64, 16, 4, 1, 1, 1]);
        assert_eq!(partes.concat(), linhas);
        assert!(em_partes::<u8>(&[]).is_empty());
    }

    #[test]
    fn motivos_gravados_voltam_como_eram() {
        for motivo in [MotivoFim::ClienteSaiu, MotivoFim::BrokerEncerrando] {
            assert_eq!(motivo_do_nome(nome_do_motivo(motivo)), Some(motivo));
        }
        assert_eq!(motivo_do_nome("outro"), None);
    }

    #[test]
    fn senhas_nao_aparecem() {
        assert_eq!(
            sem_senha("postgres://fila:segredo@db.local/fila"),
            "postgres://fila:***@db.local/fila"
        );
        assert_eq!(
            sem_senha("postgres://fila@db.local/fila"),
            "postgres://fila@db.local/fila"
        );
        assert_eq!(
            sem_senha("sqlite:///tmp/h.db?mode=rwc"),
            "sqlite:///tmp/h.db?mode=rwc"
        );
    }

    #[test]
    fn a_pasta_do_arquivo_sqlite() {
        assert_eq!(
            pasta_do_sqlite("sqlite:///var/lib/fila/historico.db?mode=rwc"),
            Some(Path::new("/var/lib/fila"))
        );
        assert_eq!(pasta_do_sqlite("sqlite://historico.db"), None);
        assert_eq!(pasta_do_sqlite("postgres://localhost/fila"), None);
    }
}
