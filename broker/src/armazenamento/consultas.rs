//! Reading the history: the conversations `broker conversas` lists, one transcript, and a
//! customer's earlier conversations (what agents get as `Anteriores`).

use std::time::Duration;

use proto::{ANTERIORES_MAXIMO, Anterior};

use super::{Banco, ErroBanco, id_do_banco, motivo_do_nome};

/// A [`Conversa`] per row of `conversas c`, with its line count; callers add the `WHERE`.
pub(super) const SELECIONAR_CONVERSAS: &str = "SELECT c.id, c.departamento, c.cliente, c.atendente, c.entrou_em, c.conectada_em, \
     c.encerrada_em, c.motivo, \
     (SELECT COUNT(*) FROM mensagens m WHERE m.conversa = c.id) AS mensagens, c.nota \
     FROM conversas c";

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
    /// The customer's rating, 1 to 5 (`None`: none given).
    pub nota: Option<i64>,
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

/// A chat handed over, as the history holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Transferencia {
    /// The agent who handed it over.
    pub de: String,
    /// The department or agent it went to.
    pub para: String,
    /// When (milliseconds since the Unix epoch).
    pub em: i64,
    /// 1 when its agent did not answer in time and it went back to the customer's line.
    pub sem_resposta: i64,
    /// Who took it over, and when (none while it waits, or if it never was).
    pub assumida_por: Option<String>,
    /// When it was taken over.
    pub assumida_em: Option<i64>,
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
    /// Rated this (1 to 5).
    pub nota: Option<i64>,
    /// With an id below this one (conversation ids grow with time).
    pub antes_de: Option<i64>,
    /// At most this many (the most recent).
    pub limite: i64,
}

impl Banco {
    /// The highest conversation id stored (0 when there is none).
    pub async fn ultima_conversa(&self) -> Result<u64, ErroBanco> {
        let (maior,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(id), 0) FROM conversas")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(maior).unwrap_or(0))
    }

    /// Each department's handling times (start to end) of its latest `por_departamento` chats
    /// that one agent held from start to end, oldest first: what a restarted broker estimates
    /// waits from. Left out, as the live broker leaves them out: chats handed over (or taken
    /// from an agent who did not answer), and chats cut by their agent leaving or the broker
    /// stopping.
    pub async fn duracoes_recentes(
        &self,
        por_departamento: usize,
    ) -> Result<Vec<(String, Vec<Duration>)>, ErroBanco> {
        let limite = i64::try_from(por_departamento).unwrap_or(i64::MAX);
        let linhas: Vec<(String, i64)> = sqlx::query_as(
            "SELECT departamento, duracao FROM ( \
                 SELECT c.departamento, c.encerrada_em - c.conectada_em AS duracao, c.id, \
                     ROW_NUMBER() OVER (PARTITION BY c.departamento ORDER BY c.id DESC) AS n \
                 FROM conversas c \
                 WHERE c.encerrada_em IS NOT NULL \
                     AND c.motivo IN ('cliente_saiu', 'cliente_desconectou', 'atendente_encerrou') \
                     AND NOT EXISTS (SELECT 1 FROM transferencias t WHERE t.conversa = c.id) \
             ) AS ultimas WHERE n <= $1 ORDER BY departamento, id",
        )
        .bind(limite)
        .fetch_all(&self.pool)
        .await?;
        let mut por_nome: Vec<(String, Vec<Duration>)> = Vec::new();
        for (departamento, ms) in linhas {
            let duracao = Duration::from_millis(u64::try_from(ms).unwrap_or(0));
            match por_nome.last_mut() {
                Some((nome, duracoes)) if *nome == departamento => duracoes.push(duracao),
                _ => por_nome.push((departamento, vec![duracao])),
            }
        }
        Ok(por_nome)
    }

    /// The conversations that pass `filtro`, oldest first (the most recent `filtro.limite`).
    pub async fn conversas(&self, filtro: &Filtro) -> Result<Vec<Conversa>, ErroBanco> {
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
        if filtro.nota.is_some() {
            sql += &format!(" AND c.nota = {}", proximo());
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
        for numero in [filtro.nota, filtro.antes_de].into_iter().flatten() {
            consulta = consulta.bind(numero);
        }
        let mut conversas = consulta.bind(filtro.limite).fetch_all(&self.pool).await?;
        conversas.reverse();
        Ok(conversas)
    }

    /// One conversation and its lines in order, if it exists.
    pub async fn transcricao(
        &self,
        id: i64,
    ) -> Result<Option<(Conversa, Vec<Mensagem>)>, ErroBanco> {
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

    /// The transfers of one conversation, in order.
    pub async fn transferencias(&self, id: i64) -> Result<Vec<Transferencia>, ErroBanco> {
        Ok(sqlx::query_as::<_, Transferencia>(
            "SELECT de, para, em, sem_resposta, assumida_por, assumida_em FROM transferencias \
             WHERE conversa = $1 ORDER BY em",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// `cliente`'s most recent conversations before `conversa`, newest first, as the protocol's
    /// `Anterior`s.
    pub async fn anteriores(
        &self,
        cliente: &str,
        conversa: u64,
    ) -> Result<Vec<Anterior>, ErroBanco> {
        let filtro = Filtro {
            cliente: Some(cliente.to_owned()),
            antes_de: Some(id_do_banco(conversa)),
            limite: i64::try_from(ANTERIORES_MAXIMO).unwrap_or(i64::MAX),
            ..Filtro::default()
        };
        let mut conversas = self.conversas(&filtro).await?;
        conversas.reverse();
        Ok(conversas.into_iter().map(anterior).collect())
    }
}

/// A stored conversation as the protocol's `Anterior`.
pub(super) fn anterior(conversa: Conversa) -> Anterior {
    Anterior {
        conversa: u64::try_from(conversa.id).unwrap_or(0),
        inicio_ms: u64::try_from(conversa.conectada_em).unwrap_or(0),
        departamento: conversa.departamento,
        atendente: conversa.atendente,
        motivo: conversa.motivo.as_deref().and_then(motivo_do_nome),
        mensagens: u32::try_from(conversa.mensagens).unwrap_or(u32::MAX),
    }
}

impl Banco {
    /// How many conversations and chat lines the history holds (for the load tool's check that
    /// nothing was lost).
    pub async fn contagem(&self) -> Result<(i64, i64), ErroBanco> {
        let (conversas,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM conversas")
            .fetch_one(&self.pool)
            .await?;
        let (linhas,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM mensagens")
            .fetch_one(&self.pool)
            .await?;
        Ok((conversas, linhas))
    }
}
