//! How `broker relatorio` prints the service-level report: per department and UTC day, as a
//! table for people, CSV for spreadsheets or JSON for programs. Pure text from the figures
//! [`crate::armazenamento::desempenho`] computed.

use std::time::Duration;

use chrono::{DateTime, NaiveDate};
use serde::Serialize;

use crate::armazenamento::Desempenho;
use crate::indicadores::MS_POR_DIA;

/// The report's formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Formato {
    /// Aligned columns, for reading.
    Tabela,
    /// Comma-separated values with a header line.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// One row of the report, as CSV and JSON name its fields. Times are seconds, rates fractions
/// of 1; absent values (nobody to average over) are empty in CSV and `null` in JSON.
#[derive(Debug, Serialize, PartialEq)]
pub struct Linha {
    /// The UTC day, AAAA-MM-DD.
    pub dia: String,
    /// The department.
    pub departamento: String,
    /// Customers whose first wait began that day and is over.
    pub oferecidos: i64,
    /// Of those, answered by an agent.
    pub atendidos: i64,
    /// Of those, left before any answer.
    pub abandonos: i64,
    /// Abandoned over offered.
    pub taxa_abandono: Option<f64>,
    /// The answered customers' mean wait.
    pub espera_media_s: Option<f64>,
    /// The 90th percentile (nearest rank) of the answered customers' waits.
    pub espera_p90_s: Option<f64>,
    /// Answered within the target.
    pub no_prazo: i64,
    /// Answered within the target over offered.
    pub nivel_servico: Option<f64>,
    /// The mean duration of the chats that started that day and ended.
    pub atendimento_medio_s: Option<f64>,
    /// Chats handed over that day.
    pub transferencias: i64,
    /// Chats taken that day from an agent who did not answer in time.
    pub sem_resposta: i64,
    /// The mean rating of the chats that started that day.
    pub nota_media: Option<f64>,
}

impl Linha {
    /// The row of one department's day.
    pub fn de(d: &Desempenho) -> Linha {
        let segundos = |ms: f64| ms / 1000.0;
        Linha {
            dia: data_utc(d.dia),
            departamento: d.departamento.clone(),
            oferecidos: d.oferecidos,
            atendidos: d.atendidos,
            abandonos: d.abandonos,
            taxa_abandono: d.taxa_de_abandono(),
            espera_media_s: d.espera_media().map(segundos),
            espera_p90_s: d.espera_p90.map(|ms| segundos(ms as f64)),
            no_prazo: d.no_prazo,
            nivel_servico: d.nivel_de_servico(),
            atendimento_medio_s: d.duracao_media().map(segundos),
            transferencias: d.transferencias,
            sem_resposta: d.sem_resposta,
            nota_media: d.nota_media(),
        }
    }
}

/// A UTC day (days since the epoch) as AAAA-MM-DD.
fn data_utc(dia: i64) -> String {
    DateTime::from_timestamp_millis(dia * MS_POR_DIA)
        .map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d").to_string())
}

/// A date given as AAAA-MM-DD, as milliseconds since the epoch at its UTC midnight.
pub fn dia_utc(data: &str) -> Result<i64, String> {
    let dia = NaiveDate::parse_from_str(data.trim(), "%Y-%m-%d")
        .map_err(|_| format!("data inválida: {data:?} (use AAAA-MM-DD)"))?;
    let meia_noite = dia
        .and_hms_opt(0, 0, 0)
        .ok_or_else(|| format!("data inválida: {data:?}"))?;
    Ok(meia_noite.and_utc().timestamp_millis())
}

/// The whole report in `formato`.
pub fn imprimir(linhas: &[Desempenho], formato: Formato, meta: Duration) -> String {
    let linhas: Vec<Linha> = linhas.iter().map(Linha::de).collect();
    match formato {
        Formato::Tabela => tabela(&linhas, meta),
        Formato::Csv => csv(&linhas),
        Formato::Json => serde_json::to_string_pretty(&linhas).unwrap_or_default() + "\n",
    }
}

/// An optional number with `casas` decimals, or "" (CSV) when absent.
fn numero(valor: Option<f64>, casas: usize) -> String {
    valor.map_or_else(String::new, |v| format!("{v:.casas$}"))
}

fn csv(linhas: &[Linha]) -> String {
    let mut texto = String::from(
        "dia,departamento,oferecidos,atendidos,abandonos,taxa_abandono,espera_media_s,\
         espera_p90_s,no_prazo,nivel_servico,atendimento_medio_s,transferencias,sem_resposta,\
         nota_media\n",
    );
    for l in linhas {
        let departamento = if l.departamento.contains([',', '"']) {
            format!("\"{}\"", l.departamento.replace('"', "\"\""))
        } else {
            l.departamento.clone()
        };
        texto += &format!(
            "{},{departamento},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            l.dia,
            l.oferecidos,
            l.atendidos,
            l.abandonos,
            numero(l.taxa_abandono, 4),
            numero(l.espera_media_s, 3),
            numero(l.espera_p90_s, 3),
            l.no_prazo,
            numero(l.nivel_servico, 4),
            numero(l.atendimento_medio_s, 3),
            l.transferencias,
            l.sem_resposta,
            numero(l.nota_media, 2),
        );
    }
    texto
}

/// A fraction as a percentage, or "—".
fn porcentagem(valor: Option<f64>) -> String {
    valor.map_or_else(|| "—".into(), |v| format!("{:.1}%", v * 100.0))
}

/// Seconds as a person reads them, or "—".
fn tempo(segundos: Option<f64>) -> String {
    segundos.map_or_else(|| "—".into(), |s| cli::duracao((s * 1000.0).round() as u64))
}

fn tabela(linhas: &[Linha], meta: Duration) -> String {
    if linhas.is_empty() {
        return "Nenhum atendimento no período.\n".into();
    }
    let titulos = [
        "Dia",
        "Departamento",
        "Oferecidos",
        "Atendidos",
        "Abandonos",
        "Abandono",
        "Espera média",
        "Espera p90",
        &format!("Nível ({})", humantime::format_duration(meta)),
        "Atendimento médio",
        "Transf.",
        "Sem resposta",
        "Nota",
    ]
    .map(str::to_owned);
    let celulas: Vec<[String; 13]> = linhas
        .iter()
        .map(|l| {
            [
                l.dia.clone(),
                l.departamento.clone(),
                l.oferecidos.to_string(),
                l.atendidos.to_string(),
                l.abandonos.to_string(),
                porcentagem(l.taxa_abandono),
                tempo(l.espera_media_s),
                tempo(l.espera_p90_s),
                porcentagem(l.nivel_servico),
                tempo(l.atendimento_medio_s),
                l.transferencias.to_string(),
                l.sem_resposta.to_string(),
                l.nota_media
                    .map_or_else(|| "—".into(), |n| format!("{n:.1}")),
            ]
        })
        .collect();
    let largura = |i: usize| {
        std::iter::once(&titulos)
            .chain(&celulas)
            .map(|linha| linha[i].chars().count())
            .max()
            .unwrap_or(0)
    };
    let larguras: Vec<usize> = (0..titulos.len()).map(largura).collect();
    std::iter::once(&titulos)
        .chain(&celulas)
        .map(|linha| {
            let partes: Vec<String> = linha
                .iter()
                .zip(&larguras)
                .map(|(celula, &l)| format!("{celula:<l$}"))
                .collect();
            partes.join("  ").trim_end().to_owned() + "\n"
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exemplo() -> Desempenho {
        Desempenho {
            dia: 20_424,
            departamento: "vendas".into(),
            oferecidos: 4,
            atendidos: 3,
            abandonos: 1,
            no_prazo: 2,
            espera_total: 45_000,
            espera_p90: Some(30_000),
            encerradas: 2,
            duracao_total: 300_000,
            transferencias: 1,
            sem_resposta: 0,
            notas: 2,
            soma_das_notas: 9,
        }
    }

    #[test]
    fn uma_linha_tem_as_taxas_e_medias_certas() {
        let linha = Linha::de(&exemplo());
        assert_eq!(linha.dia, "2025-12-02");
        assert_eq!(linha.taxa_abandono, Some(0.25));
        assert_eq!(linha.espera_media_s, Some(15.0));
        assert_eq!(linha.espera_p90_s, Some(30.0));
        assert_eq!(linha.nivel_servico, Some(0.5));
        assert_eq!(linha.atendimento_medio_s, Some(150.0));
        assert_eq!(linha.nota_media, Some(4.5));
    }

    #[test]
    fn csv_e_tabela() {
        let csv = imprimir(&[exemplo()], Formato::Csv, Duration::from_secs(20));
        assert_eq!(
            csv.lines().nth(1),
            Some("2025-12-02,vendas,4,3,1,0.2500,15.000,30.000,2,0.5000,150.000,1,0,4.50")
        );
        let tabela = imprimir(&[exemplo()], Formato::Tabela, Duration::from_secs(20));
        assert!(tabela.starts_with("Dia"), "{tabela}");
        assert!(tabela.contains("Nível (20s)"), "{tabela}");
        assert!(
            tabela.contains("25.0%") && tabela.contains("50.0%"),
            "{tabela}"
        );
        assert_eq!(
            imprimir(&[], Formato::Tabela, Duration::from_secs(20)),
            "Nenhum atendimento no período.\n"
        );
        let json: serde_json::Value = serde_json::from_str(&imprimir(
            &[exemplo()],
            Formato::Json,
            Duration::from_secs(20),
        ))
        .expect("json");
        assert_eq!(json[0]["nivel_servico"], 0.5);
    }

    #[test]
    fn dias_em_utc() {
        assert_eq!(dia_utc("1970-01-02"), Ok(MS_POR_DIA));
        assert!(dia_utc("2026-13-01").is_err());
    }
}
