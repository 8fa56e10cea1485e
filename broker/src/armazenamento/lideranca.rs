//! The store's side of a cluster's lease, on PostgreSQL: the advisory lock that makes one broker
//! the active, the epoch raised at each takeover (table `lideranca`), the active's heartbeat
//! (table `batimentos`), and the fencing check every write transaction makes.
//!
//! The lock is held by a connection of its own ([`Candidatura`]), with the server's
//! `idle_session_timeout` set to the lease's term: if the active stops renewing (it died, its
//! machine or network did, or it is frozen), the server closes that connection and the lock is
//! free for a standby. The active's writer connections get `idle_in_transaction_session_timeout`
//! with the same term, so a frozen active cannot hold its fencing lock, and a takeover waiting
//! on it, for longer.
//!
//! The lock's key is the schema's name and the cluster's, so clusters in different schemas of
//! one database never meet.

use std::time::{Duration, Instant};

use sqlx::{AnyConnection, Connection, Row};

use super::{Banco, ErroBanco, agora_ms};

/// A connection that competes for (and, once it has won, holds) cluster `grupo`'s lock.
#[derive(Debug)]
pub struct Candidatura {
    conexao: AnyConnection,
    grupo: String,
}

/// A takeover: the new epoch, and when the previous active was last heard from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posse {
    /// The epoch the new active serves in.
    pub epoca: i64,
    /// The previous active's last heartbeat, in milliseconds since the epoch (`None`: the
    /// cluster's first active).
    pub ultimo_batimento: Option<i64>,
    /// When the takeover's last statement (its commit) was sent: the server cannot free the
    /// lock sooner than a whole term after it.
    pub desde: Instant,
}

/// The active broker of a cluster, as the database says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ativo {
    /// How it described itself (host and addresses).
    pub ativo: String,
    /// Its epoch.
    pub epoca: i64,
    /// Its last heartbeat, in milliseconds since the epoch.
    pub batimento: i64,
}

/// A cluster on this database, as its table says (`broker cluster`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grupo {
    /// The cluster's name.
    pub grupo: String,
    /// Its current epoch.
    pub epoca: i64,
    /// How the broker that took over in that epoch described itself.
    pub ativo: String,
    /// When it took over, in milliseconds since the epoch.
    pub desde: i64,
    /// Its last heartbeat, in milliseconds since the epoch.
    pub batimento: i64,
}

impl Banco {
    /// Every cluster that ever had an active on this database (in this schema), by name: who
    /// holds each now, or held it last. The answer to "which broker serves group G".
    pub async fn clusters(&self) -> Result<Vec<Grupo>, ErroBanco> {
        let linhas = sqlx::query(
            "SELECT l.grupo, l.epoca, l.ativo, l.desde, COALESCE(b.em, l.desde) FROM lideranca l \
             LEFT JOIN batimentos b ON b.grupo = l.grupo ORDER BY l.grupo",
        )
        .fetch_all(&self.pool)
        .await?;
        linhas
            .into_iter()
            .map(|linha| {
                Ok(Grupo {
                    grupo: linha.try_get(0)?,
                    epoca: linha.try_get(1)?,
                    ativo: linha.try_get(2)?,
                    desde: linha.try_get(3)?,
                    batimento: linha.try_get(4)?,
                })
            })
            .collect()
    }
}

/// `duracao` as the milliseconds PostgreSQL's time settings take (at least 1: 0 turns them off).
fn em_ms(duracao: Duration) -> u128 {
    duracao.as_millis().max(1)
}

impl Candidatura {
    /// Connects to `url` for cluster `grupo`, with `prazo` as the lease's term.
    pub async fn abrir(url: &str, grupo: &str, prazo: Duration) -> Result<Candidatura, ErroBanco> {
        sqlx::any::install_default_drivers();
        let mut conexao = AnyConnection::connect(url).await?;
        sqlx::query(&format!("SET idle_session_timeout = {}", em_ms(prazo)))
            .execute(&mut conexao)
            .await?;
        sqlx::query("SET application_name = 'fila-broker liderança'")
            .execute(&mut conexao)
            .await?;
        Ok(Candidatura {
            conexao,
            grupo: grupo.to_owned(),
        })
    }

    /// Tries to take the cluster's lock (at once; `false` when another broker holds it).
    pub async fn tentar(&mut self) -> Result<bool, ErroBanco> {
        let linha =
            sqlx::query("SELECT pg_try_advisory_lock(hashtext(current_schema()), hashtext($1))")
                .bind(self.grupo.clone())
                .fetch_one(&mut self.conexao)
                .await?;
        Ok(linha.try_get::<bool, _>(0)?)
    }

    /// With the lock held: raises the epoch, describes the new active as `ativo`, and starts
    /// its heartbeat. Waits for any transaction the old active has in flight.
    pub async fn assumir(&mut self, ativo: &str) -> Result<Posse, ErroBanco> {
        let agora = agora_ms();
        let mut transacao = self.conexao.begin().await?;
        let epoca: i64 = sqlx::query(
            "INSERT INTO lideranca (grupo, epoca, ativo, desde) VALUES ($1, 1, $2, $3) \
             ON CONFLICT (grupo) DO UPDATE SET epoca = lideranca.epoca + 1, \
             ativo = excluded.ativo, desde = excluded.desde RETURNING epoca",
        )
        .bind(self.grupo.clone())
        .bind(ativo.to_owned())
        .bind(agora)
        .fetch_one(&mut *transacao)
        .await?
        .try_get(0)?;
        let ultimo_batimento: Option<i64> =
            sqlx::query("SELECT em FROM batimentos WHERE grupo = $1")
                .bind(self.grupo.clone())
                .fetch_optional(&mut *transacao)
                .await?
                .map(|linha| linha.try_get(0))
                .transpose()?;
        sqlx::query(
            "INSERT INTO batimentos (grupo, epoca, em) VALUES ($1, $2, $3) \
             ON CONFLICT (grupo) DO UPDATE SET epoca = excluded.epoca, em = excluded.em",
        )
        .bind(self.grupo.clone())
        .bind(epoca)
        .bind(agora)
        .execute(&mut *transacao)
        .await?;
        let desde = Instant::now();
        transacao.commit().await?;
        Ok(Posse {
            epoca,
            ultimo_batimento,
            desde,
        })
    }

    /// The active's heartbeat: `false` when epoch `epoca` is no longer the cluster's (another
    /// broker took over).
    pub async fn renovar(&mut self, epoca: i64) -> Result<bool, ErroBanco> {
        let feito = sqlx::query("UPDATE batimentos SET em = $3 WHERE grupo = $1 AND epoca = $2")
            .bind(self.grupo.clone())
            .bind(epoca)
            .bind(agora_ms())
            .execute(&mut self.conexao)
            .await?;
        Ok(feito.rows_affected() == 1)
    }

    /// The cluster's active, as the database last heard of it (`None`: there has been none).
    pub async fn ativo(&mut self) -> Result<Option<Ativo>, ErroBanco> {
        let linha = sqlx::query(
            "SELECT l.ativo, l.epoca, b.em FROM lideranca l \
             JOIN batimentos b ON b.grupo = l.grupo WHERE l.grupo = $1",
        )
        .bind(self.grupo.clone())
        .fetch_optional(&mut self.conexao)
        .await?;
        linha
            .map(|linha| {
                Ok(Ativo {
                    ativo: linha.try_get(0)?,
                    epoca: linha.try_get(1)?,
                    batimento: linha.try_get(2)?,
                })
            })
            .transpose()
    }

    /// Lets go of the lock by closing the connection (the server then releases it; a
    /// connection that does not close in a second is dropped, which ends it too).
    pub async fn largar(self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.conexao.close()).await;
    }
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
