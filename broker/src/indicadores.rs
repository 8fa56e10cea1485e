//! What the broker counts for whoever watches it: the Prometheus metrics (`--metricas`) and the
//! day's figures of the supervisor's panel.
//!
//! The actor owns one [`Indicadores`]: it hands it the state machine's [`Medida`]s and the
//! frames it sends, and once a second the panel, whose lines become gauges. Counters and
//! histograms are kept as handles per department, so counting costs an atomic add. Connection
//! tasks and the writer count their own events (errors, refused connections, commits) through
//! the free functions here. Without a Prometheus recorder installed every metric is a no-op;
//! the day's figures are kept either way.
//!
//! Departments are the only label besides an error's code and a refusal's limit; a broker
//! without `--departamentos` labels the first [`DEPARTAMENTOS_ROTULADOS`] names it sees and
//! counts the rest under `outros`, so a stream of invented names cannot swamp Prometheus.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Unit};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder};
use proto::{CodigoErro, DoBroker, Painel, PainelDepartamento};

use crate::matchmaking::Medida;

/// Most departments with a label of their own when any name is a department.
pub const DEPARTAMENTOS_ROTULADOS: usize = 100;

/// The label of the departments past [`DEPARTAMENTOS_ROTULADOS`].
const OUTROS: &str = "outros";

/// Milliseconds in a day: days are counted in UTC, from the Unix epoch.
pub const MS_POR_DIA: i64 = 86_400_000;

/// Buckets of the waits until answered, in seconds.
const BALDES_DE_ESPERA: &[f64] = &[
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];
/// Buckets of the handling times, in seconds.
const BALDES_DE_ATENDIMENTO: &[f64] = &[
    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0, 3600.0,
];
/// Buckets of the store's commit latency, in seconds.
const BALDES_DE_COMMIT: &[f64] = &[
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Serves the metrics in Prometheus's text format at `http://ENDERECO/metrics` (any path does)
/// and makes them the process's recorder. Must run on the broker's runtime. Once per process:
/// asked again for the same address (a cluster's member taking over again), it is already done.
pub fn instalar(endereco: SocketAddr) -> Result<(), BuildError> {
    static INSTALADO: std::sync::Mutex<Option<SocketAddr>> = std::sync::Mutex::new(None);
    let mut instalado = INSTALADO
        .lock()
        .unwrap_or_else(|envenenado| envenenado.into_inner());
    if *instalado == Some(endereco) {
        return Ok(());
    }
    let construtor = PrometheusBuilder::new()
        .with_http_listener(endereco)
        .set_buckets_for_metric(
            Matcher::Full("fila_espera_ate_atendimento_segundos".into()),
            BALDES_DE_ESPERA,
        )?
        .set_buckets_for_metric(
            Matcher::Full("fila_duracao_atendimento_segundos".into()),
            BALDES_DE_ATENDIMENTO,
        )?
        .set_buckets_for_metric(
            Matcher::Full("fila_gravacao_commit_segundos".into()),
            BALDES_DE_COMMIT,
        )?;
    construtor.install()?;
    *instalado = Some(endereco);
    descrever();
    Ok(())
}

/// The HELP lines of every metric.
fn descrever() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_gauge!(
        "fila_cluster_ativo",
        Unit::Count,
        "Num cluster: 1 se este broker é o ativo, 0 se está em espera."
    );
    describe_gauge!(
        "fila_cluster_epoca",
        Unit::Count,
        "Num cluster: a época em que este broker assumiu por último."
    );
    describe_gauge!(
        "fila_clientes_aguardando",
        Unit::Count,
        "Clientes na fila agora."
    );
    describe_gauge!(
        "fila_espera_maior_segundos",
        Unit::Seconds,
        "Há quanto tempo espera o primeiro cliente da fila, desde que chegou (para quem voltou \
         à fila, a conversa de antes incluída)."
    );
    describe_gauge!(
        "fila_atendentes_online",
        Unit::Count,
        "Atendentes conectados (com ou sem pausa)."
    );
    describe_gauge!(
        "fila_atendentes_em_conversa",
        Unit::Count,
        "Atendentes em ao menos uma conversa."
    );
    describe_gauge!(
        "fila_atendentes_pausados",
        Unit::Count,
        "Atendentes em pausa."
    );
    describe_gauge!(
        "fila_conversas_abertas",
        Unit::Count,
        "Conversas em andamento."
    );
    describe_counter!(
        "fila_clientes_oferecidos_total",
        Unit::Count,
        "Clientes que chegaram à fila."
    );
    describe_counter!(
        "fila_clientes_atendidos_total",
        Unit::Count,
        "Clientes que um atendente atendeu."
    );
    describe_counter!(
        "fila_clientes_abandonos_total",
        Unit::Count,
        "Clientes que saíram antes de um atendente os atender."
    );
    describe_counter!(
        "fila_transferencias_total",
        Unit::Count,
        "Conversas transferidas."
    );
    describe_counter!(
        "fila_conversas_sem_resposta_total",
        Unit::Count,
        "Conversas tiradas de um atendente que não respondeu a tempo."
    );
    describe_counter!(
        "fila_mensagens_repassadas_total",
        Unit::Count,
        "Mensagens de conversa repassadas."
    );
    describe_counter!(
        "fila_retomadas_total",
        Unit::Count,
        "Sessões retomadas depois de uma queda."
    );
    describe_counter!(
        "fila_erros_total",
        Unit::Count,
        "Erros enviados, por código."
    );
    describe_counter!(
        "fila_conexoes_recusadas_total",
        Unit::Count,
        "Conexões recusadas por um limite."
    );
    describe_histogram!(
        "fila_espera_ate_atendimento_segundos",
        Unit::Seconds,
        "Espera dos clientes até o primeiro atendimento."
    );
    describe_histogram!(
        "fila_duracao_atendimento_segundos",
        Unit::Seconds,
        "Quanto tempo um atendente ficou com uma conversa."
    );
    describe_gauge!(
        "fila_gravacao_lotes_pendentes",
        Unit::Count,
        "Lotes entregues ao banco e ainda não gravados."
    );
    describe_histogram!(
        "fila_gravacao_commit_segundos",
        Unit::Seconds,
        "Duração de cada commit no banco."
    );
}

/// Counts an `Erro` sent to a peer.
pub fn contar_erro(codigo: CodigoErro) {
    metrics::counter!("fila_erros_total", "codigo" => nome_do_codigo(codigo)).increment(1);
}

/// Counts a connection refused by a limit (`total`, `endereco`, or `login` for an address
/// that failed too many agent logins).
pub fn contar_recusa(limite: &'static str) {
    metrics::counter!("fila_conexoes_recusadas_total", "limite" => limite).increment(1);
}

/// Says whether this broker is its cluster's active (and in which epoch) or stands by.
pub fn papel_no_cluster(epoca: Option<i64>) {
    metrics::gauge!("fila_cluster_ativo").set(if epoca.is_some() { 1.0 } else { 0.0 });
    if let Some(epoca) = epoca {
        metrics::gauge!("fila_cluster_epoca").set(epoca as f64);
    }
}

/// Times one commit of the store.
pub fn medir_commit(duracao: Duration) {
    metrics::histogram!("fila_gravacao_commit_segundos").record(duracao.as_secs_f64());
}

/// An error code as its label (and as the apps' JSON names it).
fn nome_do_codigo(codigo: CodigoErro) -> String {
    serde_json::to_value(codigo)
        .ok()
        .and_then(|valor| valor.as_str().map(str::to_owned))
        .unwrap_or_else(|| "desconhecido".to_owned())
}

/// One department's figures of the day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dia {
    /// Customers who arrived.
    pub oferecidos: u32,
    /// Customers an agent answered.
    pub atendidos: u32,
    /// Of those, answered within the target.
    pub no_prazo: u32,
    /// Customers who left before an agent answered.
    pub abandonos: u32,
}

/// One department's metric handles.
struct Metricas {
    oferecidos: Counter,
    atendidos: Counter,
    abandonos: Counter,
    transferencias: Counter,
    sem_resposta: Counter,
    espera: Histogram,
    duracao: Histogram,
    aguardando: Gauge,
    maior_espera: Gauge,
    online: Gauge,
    em_conversa: Gauge,
    pausados: Gauge,
    conversas: Gauge,
}

impl Metricas {
    fn de(departamento: &str) -> Metricas {
        let d = departamento.to_owned();
        Metricas {
            oferecidos: metrics::counter!("fila_clientes_oferecidos_total", "departamento" => d.clone()),
            atendidos: metrics::counter!("fila_clientes_atendidos_total", "departamento" => d.clone()),
            abandonos: metrics::counter!("fila_clientes_abandonos_total", "departamento" => d.clone()),
            transferencias: metrics::counter!("fila_transferencias_total", "departamento" => d.clone()),
            sem_resposta: metrics::counter!("fila_conversas_sem_resposta_total", "departamento" => d.clone()),
            espera: metrics::histogram!("fila_espera_ate_atendimento_segundos", "departamento" => d.clone()),
            duracao: metrics::histogram!("fila_duracao_atendimento_segundos", "departamento" => d.clone()),
            aguardando: metrics::gauge!("fila_clientes_aguardando", "departamento" => d.clone()),
            maior_espera: metrics::gauge!("fila_espera_maior_segundos", "departamento" => d.clone()),
            online: metrics::gauge!("fila_atendentes_online", "departamento" => d.clone()),
            em_conversa: metrics::gauge!("fila_atendentes_em_conversa", "departamento" => d.clone()),
            pausados: metrics::gauge!("fila_atendentes_pausados", "departamento" => d.clone()),
            conversas: metrics::gauge!("fila_conversas_abertas", "departamento" => d),
        }
    }
}

/// The actor's counts: metric handles per department and the day's figures.
pub struct Indicadores {
    /// The service-level target.
    meta: Duration,
    /// The configured departments (empty: any name is one).
    configurados: Vec<String>,
    /// Handles per department label.
    metricas: HashMap<String, Metricas>,
    /// The UTC day the figures are of (days since the epoch).
    dia: i64,
    /// The day's figures per department.
    hoje: HashMap<String, Dia>,
    /// Lines relayed.
    mensagens: Counter,
    /// Sessions resumed.
    retomadas: Counter,
    /// Lots handed to the writer and not yet stored.
    pendentes: Gauge,
}

impl Indicadores {
    /// Counts against the target `meta`, for the `configurados` departments (empty: any),
    /// starting from the day's figures `hoje` of day `dia` (from the history, on a restart).
    pub fn new(
        meta: Duration,
        configurados: Vec<String>,
        (dia, hoje): (i64, HashMap<String, Dia>),
    ) -> Indicadores {
        Indicadores {
            meta,
            configurados,
            metricas: HashMap::new(),
            dia,
            hoje,
            mensagens: metrics::counter!("fila_mensagens_repassadas_total"),
            retomadas: metrics::counter!("fila_retomadas_total"),
            pendentes: metrics::gauge!("fila_gravacao_lotes_pendentes"),
        }
    }

    /// Counts what the state machine measured, at `agora_ms` (milliseconds since the epoch).
    pub fn anotar(&mut self, medidas: Vec<Medida>, agora_ms: i64) {
        self.virar_o_dia(agora_ms);
        for medida in medidas {
            self.anotar_uma(medida);
        }
    }

    fn anotar_uma(&mut self, medida: Medida) {
        let meta = self.meta;
        match medida {
            Medida::Chegada { departamento } => {
                self.metricas_de(&departamento).oferecidos.increment(1);
                self.dia_de(departamento).oferecidos += 1;
            }
            Medida::Atendido {
                departamento,
                espera,
            } => {
                let metricas = self.metricas_de(&departamento);
                metricas.atendidos.increment(1);
                metricas.espera.record(espera.as_secs_f64());
                let dia = self.dia_de(departamento);
                dia.atendidos += 1;
                dia.no_prazo += u32::from(espera <= meta);
            }
            Medida::Abandono { departamento, .. } => {
                self.metricas_de(&departamento).abandonos.increment(1);
                self.dia_de(departamento).abandonos += 1;
            }
            Medida::Atendimento {
                departamento,
                duracao,
            } => self
                .metricas_de(&departamento)
                .duracao
                .record(duracao.as_secs_f64()),
            Medida::Transferencia {
                departamento,
                sem_resposta,
            } => {
                let metricas = self.metricas_de(&departamento);
                match sem_resposta {
                    true => metricas.sem_resposta.increment(1),
                    false => metricas.transferencias.increment(1),
                }
            }
        }
    }

    /// Counts a frame the actor hands to a session.
    pub fn ao_enviar(&self, quadro: &DoBroker) {
        match quadro {
            DoBroker::Mensagem { .. } => self.mensagens.increment(1),
            DoBroker::Erro { codigo, .. } => contar_erro(*codigo),
            _ => {}
        }
    }

    /// Counts a resumed session.
    pub fn ao_retomar(&self) {
        self.retomadas.increment(1);
    }

    /// Notes how many lots the writer has yet to store.
    pub fn pendentes(&self, lotes: u64) {
        self.pendentes.set(lotes as f64);
    }

    /// Completes a panel with the target and the day's figures (at `agora_ms`), adding the
    /// departments that had figures today and have nobody in them now.
    pub fn completar(&mut self, painel: &mut Painel, agora_ms: i64) {
        self.virar_o_dia(agora_ms);
        painel.meta_ms = u64::try_from(self.meta.as_millis()).unwrap_or(u64::MAX);
        let ausentes: Vec<String> = self
            .hoje
            .keys()
            .filter(|nome| !painel.departamentos.iter().any(|d| &d.nome == *nome))
            .cloned()
            .collect();
        if !ausentes.is_empty() {
            let linhas = ausentes.into_iter().map(|nome| PainelDepartamento {
                nome,
                ..PainelDepartamento::default()
            });
            painel.departamentos.extend(linhas);
            // The configured ones stay first, in their order; the others by name.
            let configurados = self.configurados.len().min(painel.departamentos.len());
            painel.departamentos[configurados..].sort_by(|a, b| a.nome.cmp(&b.nome));
        }
        for linha in &mut painel.departamentos {
            let dia = self.hoje.get(&linha.nome).copied().unwrap_or_default();
            linha.chegadas_hoje = dia.oferecidos;
            linha.atendidos_hoje = dia.atendidos;
            linha.no_prazo_hoje = dia.no_prazo;
            linha.abandonos_hoje = dia.abandonos;
        }
    }

    /// Sets the gauges from a panel; departments no longer in it go to zero.
    pub fn publicar(&mut self, painel: &Painel) {
        let mut valores: HashMap<String, [f64; 6]> = HashMap::new();
        for linha in &painel.departamentos {
            let rotulo = self.rotulo(&linha.nome).to_owned();
            self.metricas_de(&rotulo);
            let soma = valores.entry(rotulo).or_default();
            soma[0] += f64::from(linha.aguardando);
            soma[1] = soma[1].max(linha.maior_espera_ms as f64 / 1000.0);
            soma[2] += f64::from(linha.atendentes_online);
            soma[3] += f64::from(linha.atendentes_em_conversa);
            soma[4] += f64::from(linha.atendentes_pausados);
            soma[5] += f64::from(linha.conversas);
        }
        for (rotulo, metricas) in &self.metricas {
            let valor = valores.get(rotulo).copied().unwrap_or_default();
            let medidores = [
                &metricas.aguardando,
                &metricas.maior_espera,
                &metricas.online,
                &metricas.em_conversa,
                &metricas.pausados,
                &metricas.conversas,
            ];
            for (medidor, valor) in medidores.into_iter().zip(valor) {
                medidor.set(valor);
            }
        }
    }

    /// Starts a new day's figures when `agora_ms` is past the current one.
    fn virar_o_dia(&mut self, agora_ms: i64) {
        let dia = agora_ms.div_euclid(MS_POR_DIA);
        if dia != self.dia {
            self.dia = dia;
            self.hoje.clear();
        }
    }

    fn dia_de(&mut self, departamento: String) -> &mut Dia {
        self.hoje.entry(departamento).or_default()
    }

    /// The label a department's figures go under: its name, or `outros` past the labelled ones.
    fn rotulo<'a>(&self, departamento: &'a str) -> &'a str {
        let rotulado = self.metricas.contains_key(departamento)
            || self.configurados.iter().any(|d| d == departamento)
            || (self.configurados.is_empty() && self.metricas.len() < DEPARTAMENTOS_ROTULADOS);
        if rotulado { departamento } else { OUTROS }
    }

    /// A department's handles, created on first use.
    fn metricas_de(&mut self, departamento: &str) -> &Metricas {
        let rotulo = self.rotulo(departamento);
        if !self.metricas.contains_key(rotulo) {
            self.metricas
                .insert(rotulo.to_owned(), Metricas::de(rotulo));
        }
        &self.metricas[rotulo]
    }
}
