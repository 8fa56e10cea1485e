//! The store's side of a cluster's lease, on PostgreSQL: the advisory lock that makes one broker
//! the active, the epoch raised at each takeover (table `lideranca`), the active's heartbeat
//! (table `batimentos`), and the fencing check every write transaction makes.
//!
//! The lock is held by a connection of its own ([`Trava`]), with the server's
//! `idle_session_timeout` and `idle_in_transaction_session_timeout` set to the lease's term: if
//! the active stops renewing (it died, its machine or network did, or it is frozen, even in the
//! middle of its takeover), the server closes that connection and the lock is free for a
//! standby. The active's writer connections get `idle_in_transaction_session_timeout` with the
//! same term, so a frozen active cannot hold its fencing lock, and a takeover waiting on it, for
//! longer.
//!
//! One lock per schema: a schema holds one journal, so one broker serves it at a time, whether a
//! cluster's member or a broker on its own (which holds the same lock, without a term, for as
//! long as it runs). A schema serves one cluster: a takeover under another name is refused.
//! Heartbeats are written with the server's clock, so every member reads their age alike.

use std::time::{Duration, Instant};

use crate::mandato::Marca;

use sqlx::{AnyConnection, Connection, Row};

use super::{Banco, ErroBanco};

/// The server's clock, in milliseconds since the epoch.
const AGORA_NO_SERVIDOR: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// A connection that competes for (and, once it has won, holds) the schema's lock, for
/// cluster `grupo` (empty for a broker on its own).
#[derive(Debug)]
pub struct Trava {
    conexao: AnyConnection,
    grupo: String,
}

/// A takeover: the new epoch, and how long ago the previous active was last heard from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posse {
    /// The epoch the new active serves in.
    pub epoca: i64,
    /// How long before the takeover the previous active renewed its lease last, by the server's
    /// clock (`None`: the cluster's first active).
    pub silencio: Option<Duration>,
    /// When the takeover's commit was sent: the server cannot free the lock sooner than a whole
    /// term after it.
    pub enviada_em: Marca,
}

/// A cluster on this database, as its tables say (`broker cluster`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grupo {
    /// The cluster's name.
    pub grupo: String,
    /// Its current epoch.
    pub epoca: i64,
    /// How the broker that took over in that epoch described itself (host and addresses).
    pub ativo: String,
    /// When it took over, in milliseconds since the epoch.
    pub desde: i64,
    /// How long ago it was last heard from, by the server's clock, in milliseconds.
    pub silencio_ms: i64,
}

/// `duracao` as the milliseconds PostgreSQL's time settings take (at least 1: 0 turns them off).
fn em_ms(duracao: Duration) -> u128 {
    duracao.as_millis().max(1)
}

impl Trava {
    /// Connects to `url` to hold the schema's lock: for cluster `grupo` with `prazo` as the
    /// lease's term, or (`None`) for a broker on its own, which holds it while it runs.
    pub async fn abrir(
        url: &str,
        grupo: &str,
        prazo: Option<Duration>,
    ) -> Result<Trava, ErroBanco> {
        sqlx::any::install_default_drivers();
        let mut conexao = AnyConnection::connect(url).await?;
        if let Some(prazo) = prazo {
            for ajuste in [
                format!("SET idle_session_timeout = {}", em_ms(prazo)),
                format!("SET idle_in_transaction_session_timeout = {}", em_ms(prazo)),
            ] {
                sqlx::query(&ajuste).execute(&mut conexao).await?;
            }
        }
        let nome = format!(
            "SET application_name = 'fila-broker trava pid {}'",
            std::process::id()
        );
        sqlx::query(&nome).execute(&mut conexao).await?;
        Ok(Trava {
            conexao,
            grupo: grupo.to_owned(),
        })
    }

    /// The schema's lock for a broker on its own, held as long as the returned connection
    /// lives. A broker killed a moment ago may still hold it: tried for ten seconds before
    /// giving up.
    pub async fn de_um_broker_so(url: &str) -> Result<Trava, ErroBanco> {
        let mut trava = Trava::abrir(url, "", None).await?;
        let limite = Instant::now() + Duration::from_secs(10);
        while !trava.tentar().await? {
            if Instant::now() >= limite {
                return Err(ErroBanco::EmUso);
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        Ok(trava)
    }

    /// Tries to take the schema's lock (at once; `false` when another broker holds it).
    pub async fn tentar(&mut self) -> Result<bool, ErroBanco> {
        let linha = sqlx::query(
            "SELECT pg_try_advisory_lock(hashtext(current_schema()), hashtext('fila-atendimento'))",
        )
        .fetch_one(&mut self.conexao)
        .await?;
        Ok(linha.try_get::<bool, _>(0)?)
    }

    /// With the lock held: raises the cluster's epoch, describes the new active as `ativo`,
    /// and starts its heartbeat. Waits for any transaction the old active has in flight.
    /// Refused when the schema already serves another cluster.
    pub async fn assumir(&mut self, ativo: &str) -> Result<Posse, ErroBanco> {
        let mut transacao = self.conexao.begin().await?;
        let outro: Option<String> =
            sqlx::query("SELECT grupo FROM lideranca WHERE grupo <> $1 LIMIT 1")
                .bind(self.grupo.clone())
                .fetch_optional(&mut *transacao)
                .await?
                .map(|linha| linha.try_get(0))
                .transpose()?;
        if let Some(outro) = outro {
            return Err(ErroBanco::OutroCluster(outro));
        }
        let epoca: i64 = sqlx::query(&format!(
            "INSERT INTO lideranca (grupo, epoca, ativo, desde) VALUES ($1, 1, $2, \
             {AGORA_NO_SERVIDOR}) ON CONFLICT (grupo) DO UPDATE SET epoca = lideranca.epoca + 1, \
             ativo = excluded.ativo, desde = excluded.desde RETURNING epoca"
        ))
        .bind(self.grupo.clone())
        .bind(ativo.to_owned())
        .fetch_one(&mut *transacao)
        .await?
        .try_get(0)?;
        let silencio: Option<i64> = sqlx::query(&format!(
            "SELECT {AGORA_NO_SERVIDOR} - em FROM batimentos WHERE grupo = $1"
        ))
        .bind(self.grupo.clone())
        .fetch_optional(&mut *transacao)
        .await?
        .map(|linha| linha.try_get(0))
        .transpose()?;
        sqlx::query(&format!(
            "INSERT INTO batimentos (grupo, epoca, em) VALUES ($1, $2, {AGORA_NO_SERVIDOR}) \
             ON CONFLICT (grupo) DO UPDATE SET epoca = excluded.epoca, em = excluded.em"
        ))
        .bind(self.grupo.clone())
        .bind(epoca)
        .execute(&mut *transacao)
        .await?;
        let enviada_em = Marca::agora();
        transacao.commit().await?;
        Ok(Posse {
            epoca,
            silencio: silencio.map(|ms| Duration::from_millis(u64::try_from(ms).unwrap_or(0))),
            enviada_em,
        })
    }

    /// The active's heartbeat: `false` when epoch `epoca` is no longer the cluster's (another
    /// broker took over).
    pub async fn renovar(&mut self, epoca: i64) -> Result<bool, ErroBanco> {
        let feito = sqlx::query(&format!(
            "UPDATE batimentos SET em = {AGORA_NO_SERVIDOR} WHERE grupo = $1 AND epoca = $2"
        ))
        .bind(self.grupo.clone())
        .bind(epoca)
        .execute(&mut self.conexao)
        .await?;
        Ok(feito.rows_affected() == 1)
    }

    /// The clusters the schema has had, as [`Banco::clusters`] says.
    pub async fn clusters(&mut self) -> Result<Vec<Grupo>, ErroBanco> {
        let linhas = sqlx::query(&consulta_dos_clusters())
            .fetch_all(&mut self.conexao)
            .await?;
        linhas.iter().map(grupo_da_linha).collect()
    }

    /// Lets go of the lock by closing the connection (the server then releases it; a
    /// connection that does not close in a second is dropped, which ends it too).
    pub async fn largar(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.conexao.close()).await;
    }
}

impl Banco {
    /// The clusters this schema has had (one, normally): the broker that took over last, its
    /// epoch, and how long ago it was last heard from. The answer to "which broker serves
    /// here". Empty on SQLite, which serves no cluster.
    pub async fn clusters(&self) -> Result<Vec<Grupo>, ErroBanco> {
        if self.arquivo.is_some() {
            return Ok(Vec::new());
        }
        let linhas = sqlx::query(&consulta_dos_clusters())
            .fetch_all(&self.pool)
            .await?;
        linhas.iter().map(grupo_da_linha).collect()
    }
}

fn consulta_dos_clusters() -> String {
    format!(
        "SELECT l.grupo, l.epoca, l.ativo, l.desde, {AGORA_NO_SERVIDOR} - COALESCE(b.em, l.desde) \
         FROM lideranca l LEFT JOIN batimentos b ON b.grupo = l.grupo ORDER BY l.grupo"
    )
}

fn grupo_da_linha(linha: &sqlx::any::AnyRow) -> Result<Grupo, ErroBanco> {
    Ok(Grupo {
        grupo: linha.try_get(0)?,
        epoca: linha.try_get(1)?,
        ativo: linha.try_get(2)?,
        desde: linha.try_get(3)?,
        silencio_ms: linha.try_get(4)?,
    })
}

/// Inside a write transaction: whether `epoca` is still cluster `grupo`'s epoch. Holds a share
/// lock on the cluster's row until the transaction ends, so a takeover (which raises the epoch)
/// waits for it, and any transaction after the takeover sees the new epoch.
pub(super) async fn conferir_epoca(
    conexao: &mut AnyConnection,
    grupo: &str,
    epoca: i64,
) -> Result<bool, ErroBanco> {
    let atual: Option<i64> = sqlx::query("SELECT epoca FROM lideranca WHERE grupo = $1 FOR SHARE")
        .bind(grupo.to_owned())
        .fetch_optional(conexao)
        .await?
        .map(|linha| linha.try_get(0))
        .transpose()?;
    Ok(atual == Some(epoca))
}

/// The setting the active's writer connections get: a transaction left idle longer than the
/// lease's term `prazo` (its broker frozen) is ended by the server.
pub(super) fn limite_em_transacao(prazo: Duration) -> String {
    format!("SET idle_in_transaction_session_timeout = {}", em_ms(prazo))
}
