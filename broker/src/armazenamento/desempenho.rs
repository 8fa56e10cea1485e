//! The service-level figures of `broker relatorio`, computed in SQL on either database: per
//! department and UTC day, the customers offered, answered and abandoned (from `esperas`), the
//! waits and their 90th percentile, the chats' handling time and ratings (from `conversas`),
//! and the transfers and unanswered chats (from `transferencias`).
//!
//! Every query groups by `departamento` and `instante / 86400000` (the UTC day, as an integer
//! both databases divide alike); sums are cast to `BIGINT` because PostgreSQL sums integers as
//! `NUMERIC`. The percentile is the nearest rank: the smallest wait with at least 90% of the
//! day's waits at or below it, found with window functions both databases have.

use std::collections::BTreeMap;

use super::{Banco, ErroBanco};

/// Which days and departments, and the service-level target.
#[derive(Debug, Clone, Default)]
pub struct FiltroDesempenho {
    /// From this time (ms since the epoch), inclusive.
    pub desde: Option<i64>,
    /// Up to this time (ms since the epoch), exclusive.
    pub ate: Option<i64>,
    /// Only this department.
    pub departamento: Option<String>,
    /// A customer answered within this many milliseconds counts as answered in time.
    pub meta_ms: i64,
}

/// One department's figures for one UTC day. Times are milliseconds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Desempenho {
    /// The UTC day, in days since the epoch.
    pub dia: i64,
    /// The department.
    pub departamento: String,
    /// Customers whose first wait began that day and is over: answered plus abandoned.
    pub oferecidos: i64,
    /// Of those, answered by an agent.
    pub atendidos: i64,
    /// Of those, left before an agent answered.
    pub abandonos: i64,
    /// Answered within the target.
    pub no_prazo: i64,
    /// The sum of the answered customers' waits.
    pub espera_total: i64,
    /// The 90th percentile (nearest rank) of the answered customers' waits.
    pub espera_p90: Option<i64>,
    /// Chats that started that day and have ended.
    pub encerradas: i64,
    /// The sum of their durations.
    pub duracao_total: i64,
    /// Transfers made that day (to a colleague or a department).
    pub transferencias: i64,
    /// Chats taken that day from an agent who did not answer in time.
    pub sem_resposta: i64,
    /// Chats started that day the customer rated.
    pub notas: i64,
    /// The sum of those ratings.
    pub soma_das_notas: i64,
}

impl Desempenho {
    /// Abandoned over offered (`None` with nobody offered).
    pub fn taxa_de_abandono(&self) -> Option<f64> {
        razao(self.abandonos, self.oferecidos)
    }

    /// Answered within the target over offered (abandoned included).
    pub fn nivel_de_servico(&self) -> Option<f64> {
        razao(self.no_prazo, self.oferecidos)
    }

    /// The answered customers' mean wait.
    pub fn espera_media(&self) -> Option<f64> {
        razao(self.espera_total, self.atendidos)
    }

    /// The ended chats' mean duration.
    pub fn duracao_media(&self) -> Option<f64> {
        razao(self.duracao_total, self.encerradas)
    }

    /// The mean rating.
    pub fn nota_media(&self) -> Option<f64> {
        razao(self.soma_das_notas, self.notas)
    }
}

/// The figures of `departamento` on `dia` in `por_chave`, created empty.
fn entrada(
    por_chave: &mut BTreeMap<(i64, String), Desempenho>,
    departamento: String,
    dia: i64,
) -> &mut Desempenho {
    por_chave
        .entry((dia, departamento.clone()))
        .or_insert_with(|| Desempenho {
            dia,
            departamento,
            ..Desempenho::default()
        })
}

/// `parte / todo`, if `todo` is not zero.
fn razao(parte: i64, todo: i64) -> Option<f64> {
    (todo != 0).then(|| parte as f64 / todo as f64)
}

/// The `WHERE` of one query over the time `coluna` and the department column `departamento`,
/// its parameters numbered after the `antes` already in the query.
fn condicoes(filtro: &FiltroDesempenho, antes: usize, coluna: &str, departamento: &str) -> String {
    let mut sql = String::from(" WHERE 1 = 1");
    let mut n = antes;
    for (valor, operador) in [(filtro.desde, ">="), (filtro.ate, "<")] {
        if valor.is_some() {
            n += 1;
            sql += &format!(" AND {coluna} {operador} ${n}");
        }
    }
    if filtro.departamento.is_some() {
        n += 1;
        sql += &format!(" AND {departamento} = ${n}");
    }
    sql
}

/// Binds `filtro`'s parameters, in [`condicoes`]'s order.
fn ligar<'q, O>(
    mut consulta: sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>>,
    filtro: &FiltroDesempenho,
) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments<'q>> {
    for tempo in [filtro.desde, filtro.ate].into_iter().flatten() {
        consulta = consulta.bind(tempo);
    }
    if let Some(departamento) = &filtro.departamento {
        consulta = consulta.bind(departamento.clone());
    }
    consulta
}

/// Rows of (department, day, four figures).
type Linhas = Vec<(String, i64, i64, i64, i64, i64)>;

impl Banco {
    /// The figures per department and day that pass `filtro`, by day then department.
    pub async fn desempenho(
        &self,
        filtro: &FiltroDesempenho,
    ) -> Result<Vec<Desempenho>, ErroBanco> {
        let esperas = self.esperas(filtro).await?;
        let percentis = self.percentis(filtro).await?;
        let conversas = self.conversas_por_dia(filtro).await?;
        let passagens = self.passagens_por_dia(filtro).await?;
        let mut por_chave: BTreeMap<(i64, String), Desempenho> = BTreeMap::new();
        for (departamento, dia, oferecidos, atendidos, no_prazo, espera_total) in esperas {
            let d = entrada(&mut por_chave, departamento, dia);
            d.oferecidos = oferecidos;
            d.atendidos = atendidos;
            d.abandonos = oferecidos - atendidos;
            d.no_prazo = no_prazo;
            d.espera_total = espera_total;
        }
        for (departamento, dia, p90) in percentis {
            entrada(&mut por_chave, departamento, dia).espera_p90 = Some(p90);
        }
        for (departamento, dia, encerradas, duracao_total, notas, soma) in conversas {
            let d = entrada(&mut por_chave, departamento, dia);
            d.encerradas = encerradas;
            d.duracao_total = duracao_total;
            d.notas = notas;
            d.soma_das_notas = soma;
        }
        for (departamento, dia, transferencias, sem_resposta) in passagens {
            let d = entrada(&mut por_chave, departamento, dia);
            d.transferencias = transferencias;
            d.sem_resposta = sem_resposta;
        }
        Ok(por_chave.into_values().collect())
    }

    /// Offered, answered, answered in time and the sum of the waits, from `esperas`.
    async fn esperas(&self, filtro: &FiltroDesempenho) -> Result<Linhas, ErroBanco> {
        let sql = format!(
            "SELECT departamento, entrou_em / 86400000 AS dia, COUNT(*) AS oferecidos, \
                 CAST(SUM(atendida) AS BIGINT) AS atendidos, \
                 CAST(SUM(CASE WHEN atendida = 1 AND terminou_em - entrou_em <= $1 \
                     THEN 1 ELSE 0 END) AS BIGINT) AS no_prazo, \
                 CAST(SUM(CASE WHEN atendida = 1 THEN terminou_em - entrou_em ELSE 0 END) \
                     AS BIGINT) AS espera_total \
             FROM esperas{} GROUP BY departamento, entrou_em / 86400000",
            condicoes(filtro, 1, "entrou_em", "departamento")
        );
        Ok(ligar(sqlx::query_as(&sql).bind(filtro.meta_ms), filtro)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The 90th percentile of the answered customers' waits, from `esperas`.
    async fn percentis(
        &self,
        filtro: &FiltroDesempenho,
    ) -> Result<Vec<(String, i64, i64)>, ErroBanco> {
        let sql = format!(
            "SELECT departamento, dia, espera FROM ( \
                 SELECT departamento, entrou_em / 86400000 AS dia, \
                     terminou_em - entrou_em AS espera, \
                     ROW_NUMBER() OVER (PARTITION BY departamento, entrou_em / 86400000 \
                         ORDER BY terminou_em - entrou_em) AS n, \
                     COUNT(*) OVER (PARTITION BY departamento, entrou_em / 86400000) AS total \
                 FROM esperas{} AND atendida = 1 \
             ) AS ordenadas WHERE n * 10 >= total * 9 AND (n - 1) * 10 < total * 9",
            condicoes(filtro, 0, "entrou_em", "departamento")
        );
        Ok(ligar(sqlx::query_as(&sql), filtro)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Ended chats, their durations and their ratings, from `conversas`, by their start.
    async fn conversas_por_dia(&self, filtro: &FiltroDesempenho) -> Result<Linhas, ErroBanco> {
        let sql = format!(
            "SELECT departamento, conectada_em / 86400000 AS dia, \
                 COUNT(encerrada_em) AS encerradas, \
                 CAST(COALESCE(SUM(encerrada_em - conectada_em), 0) AS BIGINT) AS duracao, \
                 COUNT(nota) AS notas, CAST(COALESCE(SUM(nota), 0) AS BIGINT) AS soma \
             FROM conversas{} GROUP BY departamento, conectada_em / 86400000",
            condicoes(filtro, 0, "conectada_em", "departamento")
        );
        Ok(ligar(sqlx::query_as(&sql), filtro)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Transfers and unanswered chats, from `transferencias`, under the chat's department.
    async fn passagens_por_dia(
        &self,
        filtro: &FiltroDesempenho,
    ) -> Result<Vec<(String, i64, i64, i64)>, ErroBanco> {
        let sql = format!(
            "SELECT c.departamento, t.em / 86400000 AS dia, \
                 CAST(SUM(1 - t.sem_resposta) AS BIGINT) AS transferencias, \
                 CAST(SUM(t.sem_resposta) AS BIGINT) AS sem_resposta \
             FROM transferencias t JOIN conversas c ON c.id = t.conversa{} \
             GROUP BY c.departamento, t.em / 86400000",
            condicoes(filtro, 0, "t.em", "c.departamento")
        );
        Ok(ligar(sqlx::query_as(&sql), filtro)
            .fetch_all(&self.pool)
            .await?)
    }
}
