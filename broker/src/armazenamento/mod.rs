//! The store: the conversation history and the journal of live sessions, in one database that
//! this module alone opens, migrates, writes and reads.
//!
//! SQLite is the default (a file in the broker's data directory, created on first start);
//! PostgreSQL serves larger sites. The schema is one set of migrations (`broker/migrations`), in
//! SQL both understand, applied through sqlx's `Any` driver, which also answers the reading
//! commands ([`consultas`]: `broker conversas`, `broker conversa ID`) and the reads at start
//! ([`diario`]: the sessions a killed broker left). While the broker runs, one writer stores the
//! state machine's records ([`gravador`] is the actor's side of it): on SQLite a rusqlite
//! connection on a blocking thread ([`escrita_sqlite`]), on PostgreSQL an sqlx task
//! ([`escrita_sqlx`]). Both turn a batch of records into the same rows ([`linhas`]).
//! On PostgreSQL, brokers of a cluster compete for the lease through [`lideranca`], and the
//! active's writer checks its epoch in every transaction.

pub mod consultas;
pub mod desempenho;
pub mod diario;
mod escrita_sqlite;
mod escrita_sqlx;
pub mod gravador;
pub mod lideranca;
mod linhas;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proto::MotivoFim;
use sqlx::AnyPool;
use sqlx::Executor;
use sqlx::any::AnyPoolOptions;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::mandato::Mandato;

pub use consultas::{Conversa, Filtro, Mensagem, Transferencia};
pub use desempenho::{Desempenho, FiltroDesempenho};
pub use gravador::{CAPACIDADE_GRAVADOR, Consulta, Gravado, Gravador, Lote, Resposta, Vaga};

/// The SQLite file's name inside the data directory.
pub const ARQUIVO: &str = "historico.db";

/// Why the store could not be opened, read or written.
#[derive(Debug, Error)]
pub enum ErroBanco {
    /// The database refused or failed.
    #[error("banco de dados: {0}")]
    Banco(#[from] sqlx::Error),
    /// The SQLite writer's connection refused or failed.
    #[error("banco de dados: {0}")]
    Sqlite(#[from] rusqlite::Error),
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
    /// A cluster needs a database several machines share.
    #[error("{}", SEM_POSTGRES)]
    ClusterSemPostgres,
    /// The schema already serves a cluster of another name.
    #[error(
        "este banco já serve o cluster {0:?}: um banco (esquema) serve um cluster só; use \
         --cluster {0:?} ou outro esquema"
    )]
    OutroCluster(String),
    /// Another broker serves this schema.
    #[error(
        "outro broker já serve este banco (o diário de um banco é de um broker só): pare-o, \
         use outro esquema, ou ponha os dois num cluster (--cluster)"
    )]
    EmUso,
    /// Another broker took over: this one's epoch is no longer the cluster's.
    #[error("outro broker assumiu o cluster (esta época, {0}, já passou)")]
    Destituido(i64),
}

/// Why a cluster cannot be on anything but PostgreSQL.
pub const SEM_POSTGRES: &str = "um cluster de brokers precisa de um banco PostgreSQL que todos \
     compartilhem (--banco postgres://... ou postgresql://...); o SQLite, o banco padrão, \
     serve um broker sozinho";

/// Whether `url` names a PostgreSQL database.
pub fn e_postgres(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

/// The default database: a SQLite file in the data directory (created when missing).
pub fn url_padrao(dados: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dados.join(ARQUIVO).display())
}

/// An open database, its schema up to date.
#[derive(Debug, Clone)]
pub struct Banco {
    /// The connections for reading (and, on PostgreSQL, writing).
    pool: AnyPool,
    /// The SQLite file, when it is one.
    arquivo: Option<PathBuf>,
}

impl Banco {
    /// Opens (creating, for SQLite) the database at `url` and brings its schema up to date.
    pub async fn abrir(url: &str) -> Result<Banco, ErroBanco> {
        Banco::abrir_com(url, None).await
    }

    /// Opens the PostgreSQL database at `url` for a broker of a cluster whose lease lasts
    /// `prazo`: a transaction left idle longer than that is ended by the server (see
    /// [`lideranca`]).
    pub async fn abrir_no_cluster(url: &str, prazo: Duration) -> Result<Banco, ErroBanco> {
        if !e_postgres(url) {
            return Err(ErroBanco::ClusterSemPostgres);
        }
        Banco::abrir_com(url, Some(prazo)).await
    }

    async fn abrir_com(url: &str, prazo: Option<Duration>) -> Result<Banco, ErroBanco> {
        sqlx::any::install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if sqlite && (url.contains(":memory:") || url.contains("mode=memory")) {
            return Err(ErroBanco::EmMemoria);
        }
        let arquivo = arquivo_do_sqlite(url);
        if let Some(pasta) = arquivo.as_deref().and_then(Path::parent)
            && !pasta.as_os_str().is_empty()
        {
            std::fs::create_dir_all(pasta)?;
        }
        let mut opcoes = AnyPoolOptions::new().max_connections(if sqlite { 2 } else { 8 });
        if let Some(prazo) = prazo {
            let limite: Arc<str> = lideranca::limite_em_transacao(prazo).into();
            opcoes = opcoes.after_connect(move |conexao, _| {
                let limite = Arc::clone(&limite);
                Box::pin(async move { conexao.execute(&*limite).await.map(drop) })
            });
        }
        let pool = opcoes.connect(url).await?;
        if sqlite {
            // Readers (`broker conversas`) never block the broker's writer. In WAL mode,
            // synchronous = NORMAL keeps every commit through a crash of the broker (the log is
            // in the operating system's hands); only a crash of the machine itself can lose
            // the last commits. It saves an fsync per commit.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await?;
            sqlx::query("PRAGMA synchronous = NORMAL")
                .execute(&pool)
                .await?;
        }
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Banco { pool, arquivo })
    }

    /// Closes the pool's connections.
    pub async fn fechar(self) {
        self.pool.close().await;
    }

    /// Starts the writer, with `inicio` as the actor's uptime zero: the actor's [`Gravador`],
    /// and, on PostgreSQL, the writer task's reports ([`Gravado`]) and the task itself, which
    /// ends after storing everything queued once the `Gravador` is dropped. (On SQLite the actor
    /// commits through the `Gravador` itself.) Under a cluster's `mandato`, every transaction
    /// checks the epoch, and the first that cannot be stored loses the mandate and ends the
    /// task, reporting nothing more.
    pub async fn iniciar_gravador(
        self,
        inicio: Instant,
        mandato: Option<Arc<Mandato>>,
    ) -> Result<Escrita, ErroBanco> {
        // Conversations left open by a broker that was killed go on numbering their lines.
        let seqs = self.seqs_das_abertas().await?;
        let base_ms = base_ms(inicio);
        if let Some(arquivo) = &self.arquivo {
            let escritor = escrita_sqlite::abrir(arquivo, base_ms, seqs)?;
            return Ok(Escrita {
                gravador: Gravador::aqui(escritor),
                tarefa: None,
            });
        }
        let (lotes_tx, lotes) = mpsc::channel(CAPACIDADE_GRAVADOR);
        let (avisos, avisos_rx) = mpsc::unbounded_channel();
        let tarefa = escrita_sqlx::iniciar(self, (base_ms, seqs), mandato, lotes, avisos);
        Ok(Escrita {
            gravador: Gravador::tarefa(lotes_tx),
            tarefa: Some((avisos_rx, tarefa)),
        })
    }
}

/// A started writer.
#[derive(Debug)]
pub struct Escrita {
    /// The actor's side.
    pub gravador: Gravador,
    /// A writer task's reports and the task itself (PostgreSQL).
    pub tarefa: Option<(mpsc::UnboundedReceiver<Gravado>, JoinHandle<()>)>,
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

/// A database URL as a person reads it: a SQLite file's path, or the URL without any password.
pub fn descrever(url: &str) -> String {
    match arquivo_do_sqlite(url) {
        Some(arquivo) if !url.contains(":memory:") => arquivo.display().to_string(),
        _ => sem_senha(url),
    }
}

/// Whether the history at `url` may hold anything: a SQLite file that does not exist holds
/// nothing (opening it would create it empty); any other database may.
pub fn existe(url: &str) -> bool {
    arquivo_do_sqlite(url).is_none_or(|arquivo| arquivo.exists())
}

/// The file of a `sqlite://PATH?...` (or `sqlite:PATH`) URL; `None` for any other database.
fn arquivo_do_sqlite(url: &str) -> Option<PathBuf> {
    let resto = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let caminho = resto.split('?').next()?;
    (!caminho.is_empty()).then(|| PathBuf::from(caminho))
}

/// An id (conversation or session) as the database stores it.
pub(crate) fn id_do_banco(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

/// Now, in milliseconds since the Unix epoch (how the database keeps times).
pub fn agora_ms() -> i64 {
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
        MotivoFim::SemResposta => "sem_resposta",
        MotivoFim::Transferido => "transferido",
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
        MotivoFim::SemResposta,
        MotivoFim::Transferido,
    ]
    .into_iter()
    .find(|motivo| nome_do_motivo(*motivo) == nome)
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn o_arquivo_do_sqlite() {
        assert_eq!(
            arquivo_do_sqlite("sqlite:///var/lib/fila/historico.db?mode=rwc"),
            Some(PathBuf::from("/var/lib/fila/historico.db"))
        );
        assert_eq!(
            arquivo_do_sqlite("sqlite://historico.db"),
            Some(PathBuf::from("historico.db"))
        );
        assert_eq!(
            arquivo_do_sqlite("sqlite:h.db"),
            Some(PathBuf::from("h.db"))
        );
        assert_eq!(arquivo_do_sqlite("postgres://localhost/fila"), None);
    }

    #[test]
    fn bancos_descritos_para_gente() {
        assert_eq!(
            descrever("sqlite:///var/lib/fila/historico.db?mode=rwc"),
            "/var/lib/fila/historico.db"
        );
        assert_eq!(
            descrever("postgres://fila:segredo@db.local/fila"),
            "postgres://fila:***@db.local/fila"
        );
    }

    #[tokio::test]
    async fn sqlite_em_memoria_e_recusado_com_motivo() {
        for url in ["sqlite::memory:", "sqlite://x.db?mode=memory"] {
            let erro = Banco::abrir(url).await.expect_err("refused");
            assert!(matches!(erro, ErroBanco::EmMemoria), "{url}: {erro}");
            assert!(erro.to_string().contains("--sem-banco"));
        }
    }
}
