//! `broker`: runs the help-desk queue broker from the command line until Ctrl-C or SIGTERM.

use std::io::IsTerminal;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use broker::armazenamento::{self, Banco};
use broker::cluster::{Membro, Situacao};
use broker::config::Cluster;
use broker::indicadores::MS_POR_DIA;
use broker::servico::{self, Formato};
use broker::{Broker, Config, arquivos, credenciais, relatorio};
use clap::{ArgAction, Parser, Subcommand};
use proto::tls::{self, rustls::ServerConfig};
use tracing_subscriber::EnvFilter;

/// A cluster's name: trimmed, not empty, at most 100 characters.
fn nome_do_cluster(texto: &str) -> Result<String, String> {
    let nome = texto.trim();
    if nome.is_empty() || nome.chars().count() > 100 || nome.chars().any(char::is_control) {
        return Err("o nome do cluster precisa ter de 1 a 100 caracteres visíveis".into());
    }
    Ok(nome.to_owned())
}

/// The departments of `--departamentos`, normalized, without repeats, in the order given.
#[derive(Debug, Clone)]
struct ListaDepartamentos(Vec<String>);

/// Reads `--departamentos`: names separated by commas, each a valid department name.
fn lista_de_departamentos(texto: &str) -> Result<ListaDepartamentos, String> {
    let mut nomes: Vec<String> = Vec::new();
    for bruto in texto.split(',') {
        let nome = proto::validacao::normalizar_departamento(bruto)
            .map_err(|erro| format!("departamento inválido \"{}\": {erro}", bruto.trim()))?;
        if !nomes.contains(&nome) {
            nomes.push(nome);
        }
    }
    Ok(ListaDepartamentos(nomes))
}

/// The origins of `--origens`, normalized (lowercase, no trailing slash).
#[derive(Debug, Clone)]
struct ListaOrigens(Vec<String>);

/// Reads `--origens`: origins separated by commas, each as
/// [`broker::web::politica::normalizar_origem`]
/// reads it.
fn lista_de_origens(texto: &str) -> Result<ListaOrigens, String> {
    let mut origens = Vec::new();
    for bruta in texto.split(',') {
        let origem = broker::web::politica::normalizar_origem(bruta)?;
        if !origens.contains(&origem) {
            origens.push(origem);
        }
    }
    Ok(ListaOrigens(origens))
}

/// Command-line options (all help text in Portuguese, for the people who run it).
#[derive(Debug, Parser)]
#[command(
    name = "broker",
    version,
    about = "Broker da fila de atendimento: clientes esperam na fila, atendentes livres \
             esperam na deles, e o broker forma os pares e repassa a conversa.",
    disable_help_flag = true,
    disable_version_flag = true,
    help_template = cli::MODELO_AJUDA,
    override_usage = "broker [OPÇÕES]\n       broker conversas [FILTROS]\n       broker conversa ID\n       \
                      broker relatorio [FILTROS]\n       broker painel [OPÇÕES]",
    after_help = "Histórico: broker conversas lista as conversas gravadas (--help mostra os \
                  filtros); broker conversa ID mostra uma delas; broker relatorio dá o nível de \
                  serviço por departamento e dia.\n\
                  Supervisão: broker painel mostra as filas e os atendentes de um broker em \
                  funcionamento; --metricas serve as métricas ao Prometheus.\n\
                  Registros: defina RUST_LOG (por exemplo RUST_LOG=debug) para mais detalhes."
)]
struct Argumentos {
    /// Endereço e porta em que o broker aceita conexões. Padrão: 127.0.0.1:7878.
    #[arg(long, value_name = "ENDEREÇO", default_value = proto::ENDERECO_PADRAO, hide_default_value = true)]
    escutar: SocketAddr,

    /// Tamanho máximo de um quadro, em bytes (de 20480 a 16777216). Padrão: 65536.
    #[arg(
        long,
        value_name = "BYTES",
        default_value = "65536",
        value_parser = clap::value_parser!(u32).range(20_480..=16_777_216),
        hide_default_value = true
    )]
    quadro_maximo: u32,

    /// Prazo para uma nova conexão se apresentar (ex.: 10s, 500ms). Padrão: 10s.
    #[arg(long, value_name = "DURAÇÃO", default_value = "10s", value_parser = humantime::parse_duration, hide_default_value = true)]
    prazo_apresentacao: Duration,

    /// De quanto em quanto tempo as posições na fila são enviadas. Padrão: 100ms.
    #[arg(long, value_name = "DURAÇÃO", default_value = "100ms", value_parser = humantime::parse_duration, hide_default_value = true)]
    intervalo_fila: Duration,

    /// Quadros que podem esperar para ser escritos a um participante antes de ele ser
    /// desconectado por lentidão. Padrão: 1024.
    #[arg(
        long,
        value_name = "QUADROS",
        default_value_t = 1024,
        hide_default_value = true
    )]
    capacidade_saida: usize,

    /// Prazo para as conexões se despedirem quando o broker é encerrado. Padrão: 5s.
    #[arg(long, value_name = "DURAÇÃO", default_value = "5s", value_parser = humantime::parse_duration, hide_default_value = true)]
    prazo_encerramento: Duration,

    /// Intervalo dos batimentos (Ping); quem fica calado por dois intervalos é desconectado.
    /// Padrão: 15s.
    #[arg(long, value_name = "DURAÇÃO", default_value = "15s", value_parser = humantime::parse_duration, hide_default_value = true)]
    batimento: Duration,

    /// Por quanto tempo um cliente ou atendente cuja conexão caiu mantém o lugar na fila ou a
    /// conversa, à espera de que reconecte; 0s desliga a retomada. Padrão: 60s.
    #[arg(long, value_name = "DURAÇÃO", default_value = "60s", value_parser = humantime::parse_duration, hide_default_value = true)]
    tolerancia_retomada: Duration,

    /// Tempo que um atendente tem para escrever a primeira mensagem de um atendimento; se não
    /// escrever, o cliente passa ao próximo atendente e ele entra em pausa. 0s desliga. Padrão: 2m.
    #[arg(long, value_name = "DURAÇÃO", default_value = "2m", value_parser = humantime::parse_duration, hide_default_value = true)]
    prazo_resposta: Duration,

    /// Tempo que o cliente tem para dar uma nota ao atendimento que o atendente encerrou; 0s
    /// não pede nota. Padrão: 2m.
    #[arg(long, value_name = "DURAÇÃO", default_value = "2m", value_parser = humantime::parse_duration, hide_default_value = true)]
    prazo_avaliacao: Duration,

    /// Máximo de conexões abertas ao todo. Padrão: 100000.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        hide_default_value = true
    )]
    conexoes_maximas: usize,

    /// Máximo de conexões abertas de um mesmo endereço IP. Padrão: 256.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 256,
        hide_default_value = true
    )]
    conexoes_por_endereco: usize,

    /// Mensagens por segundo que cada participante pode enviar, em média. Padrão: 10.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 10,
        hide_default_value = true
    )]
    mensagens_por_segundo: u32,

    /// Mensagens que podem ser enviadas de uma vez antes de valer o limite por segundo.
    /// Padrão: 20.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 20,
        hide_default_value = true
    )]
    rajada: u32,

    /// Máximo de clientes esperando em um departamento. Padrão: 100000.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 100_000,
        hide_default_value = true
    )]
    fila_maxima: usize,

    /// Máximo de conversas simultâneas de um atendente, seja qual for o --capacidade que ele
    /// pedir (de 1 a 10). Padrão: 10.
    #[arg(
        long,
        value_name = "N",
        default_value_t = proto::CAPACIDADE_MAXIMA,
        value_parser = clap::value_parser!(u8).range(1..=i64::from(proto::CAPACIDADE_MAXIMA)),
        hide_default_value = true
    )]
    capacidade_maxima: u8,

    /// Máximo de caracteres num nome ou departamento. Padrão: 64.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 64,
        hide_default_value = true
    )]
    nome_maximo: usize,

    /// Máximo de bytes numa mensagem. Padrão: 16384.
    #[arg(
        long,
        value_name = "BYTES",
        default_value_t = 16_384,
        hide_default_value = true
    )]
    texto_maximo: usize,

    /// Token que os atendentes devem apresentar. Sem ele, os tokens vêm do arquivo
    /// tokens-atendentes.txt na pasta de dados (criado na primeira execução).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "FILA_TOKEN_ATENDENTE",
        hide_env_values = true
    )]
    token_atendente: Option<String>,

    /// Token que os supervisores (broker painel) devem apresentar. Sem ele, os tokens vêm do
    /// arquivo tokens-supervisores.txt na pasta de dados (criado na primeira execução).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "FILA_TOKEN_SUPERVISOR",
        hide_env_values = true
    )]
    token_supervisor: Option<String>,

    /// Serve as métricas no formato do Prometheus neste endereço (em /metrics), por exemplo
    /// 127.0.0.1:9187. Desligado por padrão.
    #[arg(long, value_name = "ENDEREÇO", env = "FILA_METRICAS")]
    metricas: Option<SocketAddr>,

    /// Meta do nível de serviço: um cliente atendido em até este tempo conta como atendido no
    /// prazo (no painel). Padrão: 20s.
    #[arg(long, value_name = "DURAÇÃO", default_value = "20s", value_parser = humantime::parse_duration, hide_default_value = true)]
    meta: Duration,

    /// Os departamentos atendidos, separados por vírgula (o primeiro é o padrão dos clientes):
    /// um cliente ou atendente que peça outro é recusado com a lista. Sem a opção, qualquer
    /// nome vale.
    #[arg(
        long,
        value_name = "LISTA",
        env = "FILA_DEPARTAMENTOS",
        value_parser = lista_de_departamentos
    )]
    departamentos: Option<ListaDepartamentos>,

    /// Serve neste endereço (por exemplo 127.0.0.1:8080) a página de atendimento dos clientes
    /// no navegador, o widget para sites (/widget.js) e o protocolo por WebSocket (/ws).
    /// Desligado por padrão.
    #[arg(long, value_name = "ENDEREÇO", env = "FILA_WEB")]
    web: Option<SocketAddr>,

    /// Sites (origens, como https://loja.exemplo.com), separados por vírgula, que podem pôr o
    /// widget em suas páginas e falar com o broker por WebSocket, além do próprio broker.
    #[arg(long, value_name = "LISTA", env = "FILA_ORIGENS", value_parser = lista_de_origens, requires = "web")]
    origens: Option<ListaOrigens>,

    /// Certificado TLS (PEM, com a cadeia). Com --tls-chave, o broker só aceita TLS.
    #[arg(long, value_name = "ARQUIVO", requires = "tls_chave")]
    tls_cert: Option<PathBuf>,

    /// Chave privada TLS (PEM) do certificado.
    #[arg(long, value_name = "ARQUIVO", requires = "tls_cert")]
    tls_chave: Option<PathBuf>,

    /// Pasta de dados do broker. Padrão: ~/.local/share/fila-atendimento.
    #[arg(long, value_name = "PASTA", env = "FILA_DADOS", global = true)]
    dados: Option<PathBuf>,

    /// Banco do histórico de conversas: postgres://USUÁRIO@HOST/BANCO para PostgreSQL.
    /// Padrão: o arquivo SQLite historico.db na pasta de dados.
    #[arg(long, value_name = "URL", env = "FILA_BANCO", global = true)]
    banco: Option<String>,

    /// Roda sem banco de dados: nenhum histórico, nenhuma recuperação depois de uma queda do
    /// broker (as retomadas de conexão continuam valendo enquanto ele roda). Para experimentar
    /// ou comparar.
    #[arg(long, conflicts_with = "banco")]
    sem_banco: bool,

    /// Nome do cluster: brokers com o mesmo --banco PostgreSQL e o mesmo nome elegem um ativo
    /// entre eles; os outros ficam em espera, com as portas fechadas, e um deles assume se o
    /// ativo cair. Aponte os aplicativos para todos: --servidor a:7878,b:7878.
    #[arg(long, value_name = "NOME", env = "FILA_CLUSTER", value_parser = nome_do_cluster, conflicts_with = "sem_banco")]
    cluster: Option<String>,

    /// Num cluster, em quanto tempo um broker em espera percebe que o ativo caiu e assume (um
    /// ativo que não consegue renovar a liderança deixa de servir antes disso). Padrão: 5s.
    #[arg(long, value_name = "DURAÇÃO", env = "FILA_PRAZO_LIDERANCA", default_value = "5s", value_parser = humantime::parse_duration, hide_default_value = true, global = true)]
    prazo_lideranca: Duration,

    #[command(subcommand)]
    consulta: Option<Consulta>,

    /// Mostra esta ajuda.
    #[arg(short = 'h', long = "help", action = ArgAction::Help, global = true)]
    ajuda: Option<bool>,

    /// Mostra a versão.
    #[arg(short = 'V', long = "version", action = ArgAction::Version)]
    versao: Option<bool>,
}

/// Reading the history instead of serving.
#[derive(Debug, Subcommand)]
enum Consulta {
    /// Lista as conversas do histórico (as mais recentes, da mais antiga para a mais nova).
    #[command(
        help_template = cli::MODELO_AJUDA,
        override_usage = "broker conversas [FILTROS]"
    )]
    Conversas {
        /// Só as que começaram a partir deste dia (AAAA-MM-DD).
        #[arg(long, value_name = "DATA")]
        desde: Option<String>,
        /// Só as que começaram até este dia, inclusive (AAAA-MM-DD).
        #[arg(long, value_name = "DATA")]
        ate: Option<String>,
        /// Só as deste departamento.
        #[arg(long, value_name = "NOME")]
        departamento: Option<String>,
        /// Só as deste atendente.
        #[arg(long, value_name = "NOME")]
        atendente: Option<String>,
        /// Só as deste cliente.
        #[arg(long, value_name = "NOME")]
        cliente: Option<String>,
        /// Só as que o cliente avaliou com esta nota (1 a 5).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(i64).range(1..=5))]
        nota: Option<i64>,
        /// Quantas no máximo. Padrão: 50.
        #[arg(
            long,
            value_name = "N",
            default_value_t = 50,
            hide_default_value = true
        )]
        limite: u32,
    },
    /// Nível de serviço por departamento e dia (UTC): clientes oferecidos, atendidos e
    /// abandonos, esperas, atendimentos, transferências e notas.
    #[command(
        help_template = cli::MODELO_AJUDA,
        override_usage = "broker relatorio [FILTROS]"
    )]
    Relatorio {
        /// A partir deste dia (AAAA-MM-DD, em UTC).
        #[arg(long, value_name = "DATA")]
        desde: Option<String>,
        /// Até este dia, inclusive (AAAA-MM-DD, em UTC).
        #[arg(long, value_name = "DATA")]
        ate: Option<String>,
        /// Só este departamento.
        #[arg(long, value_name = "NOME")]
        departamento: Option<String>,
        /// Meta do nível de serviço: um cliente atendido em até este tempo conta como atendido
        /// no prazo. Padrão: 20s.
        #[arg(long, value_name = "DURAÇÃO", default_value = "20s", value_parser = humantime::parse_duration, hide_default_value = true)]
        meta: Duration,
        /// tabela (para ler), csv (para planilhas) ou json. Padrão: tabela.
        #[arg(
            long,
            value_enum,
            value_name = "FORMATO",
            default_value = "tabela",
            hide_default_value = true
        )]
        formato: Formato,
    },
    /// Os clusters deste banco (--banco): o broker ativo de cada um, desde quando, e há quanto
    /// tempo ele deu sinal.
    #[command(
        help_template = cli::MODELO_AJUDA,
        override_usage = "broker cluster [--banco URL]"
    )]
    Cluster,
    /// Painel ao vivo de um broker em funcionamento: filas, esperas, nível de serviço do dia e o
    /// que cada atendente está fazendo.
    #[command(
        help_template = cli::MODELO_AJUDA,
        override_usage = "broker painel [OPÇÕES]"
    )]
    Painel {
        /// Endereço do broker (host:porta); num cluster, os de todos os membros, separados por
        /// vírgula. Padrão: 127.0.0.1:7878.
        #[arg(long, value_name = "ENDEREÇOS", env = "FILA_SERVIDOR", default_value = proto::ENDERECO_PADRAO, hide_default_value = true, value_parser = app_core::lista_de_servidores)]
        servidor: String,
        /// Token de supervisor. Sem ele, o primeiro de tokens-supervisores.txt na pasta de
        /// dados (no computador do broker).
        #[arg(
            long,
            value_name = "TOKEN",
            env = "FILA_TOKEN_SUPERVISOR",
            hide_env_values = true
        )]
        token: Option<String>,
        /// Nome com que o broker registra este supervisor. Padrão: supervisor.
        #[arg(
            long,
            value_name = "NOME",
            default_value = "supervisor",
            hide_default_value = true
        )]
        nome: String,
        /// Um painel por linha, em JSON (para scripts).
        #[arg(long)]
        json: bool,
        /// Mostra um painel (em JSON) e sai.
        #[arg(long)]
        uma_vez: bool,
        /// Conecta com TLS.
        #[arg(long)]
        tls: bool,
        /// Certificado (PEM) da autoridade que assinou o do broker; implica --tls.
        #[arg(long, value_name = "ARQUIVO")]
        ca: Option<PathBuf>,
    },
    /// Mostra a transcrição de uma conversa.
    #[command(
        help_template = "{about}\n\nUso: {usage}\n\nArgumentos:\n{positionals}\n\nOpções:\n{options}",
        override_usage = "broker conversa ID"
    )]
    Conversa {
        /// O número da conversa (o # da listagem).
        #[arg(value_name = "ID")]
        id: i64,
    },
}

impl Argumentos {
    /// The data directory: `--dados`, or the user's default.
    fn pasta_de_dados(&self) -> PathBuf {
        self.dados
            .clone()
            .unwrap_or_else(credenciais::diretorio_padrao)
    }

    /// How the protocol's port is served, as people read it.
    fn modo(&self) -> &'static str {
        if self.tls_cert.is_some() {
            "TLS"
        } else {
            "TCP sem criptografia"
        }
    }

    /// The history database: `--banco`, or the SQLite file in the data directory.
    fn url_do_banco(&self) -> String {
        self.banco
            .clone()
            .unwrap_or_else(|| armazenamento::url_padrao(&self.pasta_de_dados()))
    }

    fn config(&self, tokens: Tokens, tls: Option<Arc<ServerConfig>>) -> Config {
        let Tokens {
            atendentes: tokens_atendente,
            supervisores: tokens_supervisor,
        } = tokens;
        Config {
            escutar: self.escutar,
            tamanho_maximo_quadro: self.quadro_maximo as usize,
            nome_maximo: self.nome_maximo,
            texto_maximo: self.texto_maximo,
            prazo_apresentacao: self.prazo_apresentacao,
            intervalo_fila: self.intervalo_fila,
            intervalo_batimento: self.batimento,
            conexoes_maximas: self.conexoes_maximas,
            conexoes_por_endereco: self.conexoes_por_endereco,
            mensagens_por_segundo: self.mensagens_por_segundo,
            rajada_de_mensagens: self.rajada,
            fila_maxima: self.fila_maxima,
            capacidade_maxima: self.capacidade_maxima,
            tokens_atendente,
            tokens_supervisor,
            metricas: self.metricas,
            web: self.web,
            origens: self
                .origens
                .clone()
                .map(|lista| lista.0)
                .unwrap_or_default(),
            meta_servico: self.meta,
            tls,
            capacidade_saida: self.capacidade_saida,
            prazo_encerramento: self.prazo_encerramento,
            tolerancia_retomada: self.tolerancia_retomada,
            prazo_resposta: self.prazo_resposta,
            prazo_avaliacao: self.prazo_avaliacao,
            departamentos: self
                .departamentos
                .clone()
                .map(|lista| lista.0)
                .unwrap_or_default(),
            banco: (!self.sem_banco).then(|| self.url_do_banco()),
            cluster: self.cluster.clone().map(|nome| Cluster {
                nome,
                prazo: self.prazo_lideranca,
            }),
            ..Config::default()
        }
    }

    /// The agents' and the supervisors' tokens: the one given for each role, or those of its
    /// credentials file (created, and announced, on first start).
    fn tokens(&self) -> Result<Tokens, String> {
        let atendentes = self.tokens_de(&self.token_atendente, credenciais::ATENDENTES)?;
        let supervisores = self.tokens_de(&self.token_supervisor, credenciais::SUPERVISORES)?;
        Ok(Tokens {
            atendentes,
            supervisores,
        })
    }

    /// One role's tokens: `dado` (from its option), or those of its file.
    fn tokens_de(
        &self,
        dado: &Option<String>,
        arquivo: credenciais::Arquivo,
    ) -> Result<Vec<String>, String> {
        if let Some(token) = dado.as_deref().map(str::trim) {
            if token.is_empty() {
                return Err(format!("{} não pode ser vazio", arquivo.opcao));
            }
            return Ok(vec![token.to_owned()]);
        }
        let pasta = self.pasta_de_dados();
        let (tokens, criado) = credenciais::carregar_ou_criar(&pasta, arquivo).map_err(|erro| {
            format!(
                "não foi possível ler ou criar as credenciais em {}: {erro}",
                pasta.display()
            )
        })?;
        if criado {
            let caminho = pasta.join(arquivo.nome).display().to_string();
            if arquivo.opcao == credenciais::ATENDENTES.opcao {
                println!("Primeira execução: credenciais dos atendentes criadas em {caminho}.");
                println!("Para entrar como atendente, use o token que está nesse arquivo:");
                println!(
                    "  atendente --nome SEU_NOME --token {}   (ou {}=... no ambiente)",
                    tokens[0],
                    credenciais::VARIAVEL_DO_ATENDENTE
                );
            } else {
                println!("Credenciais dos supervisores criadas em {caminho}.");
                println!(
                    "Para abrir o painel de outro computador: broker painel --servidor \
                     HOST:PORTA --token {}",
                    tokens[0]
                );
            }
        }
        Ok(tokens)
    }
}

/// The tokens of each role that needs one.
struct Tokens {
    atendentes: Vec<String>,
    supervisores: Vec<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let argumentos: Argumentos = cli::analisar();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    if let Some(painel @ Consulta::Painel { .. }) = &argumentos.consulta {
        return abrir_painel(painel, &argumentos.pasta_de_dados()).await;
    }
    if let Some(consulta) = &argumentos.consulta {
        if argumentos.sem_banco {
            eprintln!("Erro: --sem-banco não tem histórico para consultar.");
            return ExitCode::from(2);
        }
        let prazo = argumentos.prazo_lideranca;
        return consultar(&argumentos.url_do_banco(), consulta, prazo).await;
    }
    let tls = match (&argumentos.tls_cert, &argumentos.tls_chave) {
        (Some(certificado), Some(chave)) => match tls::configuracao_servidor(certificado, chave) {
            Ok(tls) => Some(tls),
            Err(erro) => {
                eprintln!("Erro: {erro}");
                return ExitCode::FAILURE;
            }
        },
        _ => None,
    };
    let config = match argumentos.tokens() {
        Ok(tokens) => argumentos.config(tokens, tls),
        Err(erro) => {
            eprintln!("Erro: {erro}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(erro) = config.validar() {
        eprintln!("Erro: {erro}");
        return ExitCode::from(2);
    }
    avisar_limite_de_arquivos(config.conexoes_maximas);
    if config.cluster.is_some() {
        return servir_no_cluster(config, &argumentos).await;
    }
    let broker = match Broker::iniciar(config).await {
        Ok(broker) => broker,
        Err(erro) => {
            eprintln!("Não foi possível iniciar o broker: {erro}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Broker ouvindo em {} ({}). Ctrl-C encerra.",
        broker.endereco(),
        argumentos.modo()
    );
    anunciar(&argumentos, broker.endereco_web());
    if let Err(erro) = sinal_de_encerramento().await {
        eprintln!("Não foi possível esperar pelo sinal de encerramento: {erro}");
    }
    // Not `println!`: a Ctrl-C also ends a `| tee` reading our output, and a write to the
    // broken pipe must not cut the graceful stop short.
    let _ = writeln!(
        io::stdout(),
        "Encerrando: avisando todos os participantes..."
    );
    broker.parar().await;
    let _ = writeln!(io::stdout(), "Broker encerrado.");
    ExitCode::SUCCESS
}

/// Runs the broker as a member of a cluster: standing by, or active, until Ctrl-C or SIGTERM
/// (which, when active, hands over to another member).
async fn servir_no_cluster(config: Config, argumentos: &Argumentos) -> ExitCode {
    let membro = match Membro::iniciar(config).await {
        Ok(membro) => membro,
        Err(erro) => {
            eprintln!("Não foi possível entrar no cluster: {erro}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "Membro do cluster {:?}: em espera até ser o ativo, com a porta {} ({}) reservada e \
         fechada. Ctrl-C encerra.",
        argumentos.cluster.as_deref().unwrap_or_default(),
        membro.endereco(),
        argumentos.modo()
    );
    anunciar(argumentos, membro.endereco_web());
    println!(
        "Os membros do cluster precisam dos mesmos tokens: use o mesmo --token-atendente (e \
         --token-supervisor) em todos, ou copie os arquivos tokens-*.txt da pasta de dados."
    );
    let mut situacao = membro.situacao();
    let endereco = membro.endereco();
    let avisos = tokio::spawn(async move {
        while situacao.changed().await.is_ok() {
            let texto = match *situacao.borrow_and_update() {
                Situacao::Ativo {
                    epoca,
                    lacuna: Some(lacuna),
                } => format!(
                    "Ativo do cluster (época {epoca}): ouvindo em {endereco}; o cluster ficou \
                     {} sem ativo.",
                    cli::duracao(u64::try_from(lacuna.as_millis()).unwrap_or(u64::MAX))
                ),
                Situacao::Ativo {
                    epoca,
                    lacuna: None,
                } => {
                    format!("Ativo do cluster (época {epoca}): ouvindo em {endereco}.")
                }
                Situacao::Espera => "Em espera: outro broker do cluster atende.".to_owned(),
            };
            let _ = writeln!(io::stdout(), "{texto}");
        }
    });
    if let Err(erro) = sinal_de_encerramento().await {
        eprintln!("Não foi possível esperar pelo sinal de encerramento: {erro}");
    }
    avisos.abort();
    let despedida = if matches!(*membro.situacao().borrow(), Situacao::Ativo { .. }) {
        "Saindo do cluster: as conversas ficam no banco, e outro membro as assume..."
    } else {
        "Saindo do cluster..."
    };
    let _ = writeln!(io::stdout(), "{despedida}");
    membro.parar().await;
    let _ = writeln!(io::stdout(), "Broker encerrado.");
    ExitCode::SUCCESS
}

/// Tells where the history is kept and what else is served.
fn anunciar(argumentos: &Argumentos, endereco_web: Option<SocketAddr>) {
    if argumentos.sem_banco {
        println!(
            "Sem banco de dados: nada é gravado, e uma queda do broker perde as filas e as \
             conversas."
        );
    } else {
        println!(
            "Histórico de conversas em {} (broker conversas para ver).",
            armazenamento::descrever(&argumentos.url_do_banco())
        );
    }
    if let Some(endereco) = argumentos.metricas {
        println!("Métricas para o Prometheus em http://{endereco}/metrics.");
    }
    if let Some(endereco) = endereco_web {
        let esquema = if argumentos.tls_cert.is_some() {
            "https"
        } else {
            "http"
        };
        println!(
            "Página de atendimento em {esquema}://{endereco}/ (widget para sites: \
             {esquema}://{endereco}/widget.js)."
        );
        match &argumentos.origens {
            Some(lista) => println!("Sites que podem usar o widget: {}.", lista.0.join(", ")),
            None => println!("Widget só na própria página do broker (--origens lista os sites)."),
        }
    }
    match &argumentos.departamentos {
        Some(lista) => println!("Departamentos atendidos: {}.", lista.0.join(", ")),
        None => println!("Departamentos: qualquer nome (--departamentos fixa uma lista)."),
    }
}

/// Prints `broker cluster`: each cluster of the database and its active.
async fn mostrar_clusters(historico: &Banco, prazo: Duration) -> ExitCode {
    match historico.clusters().await {
        Ok(grupos) if grupos.is_empty() => {
            println!("Nenhum cluster neste banco (broker --cluster NOME cria um).");
            ExitCode::SUCCESS
        }
        Ok(grupos) => {
            let prazo_ms = i64::try_from(prazo.as_millis()).unwrap_or(i64::MAX);
            for grupo in &grupos {
                println!("{}", relatorio::linha_do_cluster(grupo, prazo_ms));
            }
            ExitCode::SUCCESS
        }
        Err(erro) => {
            eprintln!("Não foi possível ler os clusters: {erro}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `broker painel`, with the supervisor token given or, on the broker's machine, the one
/// in the data directory `pasta`.
async fn abrir_painel(painel: &Consulta, pasta: &std::path::Path) -> ExitCode {
    let Consulta::Painel {
        servidor,
        token,
        nome,
        json,
        uma_vez,
        tls,
        ca,
    } = painel
    else {
        return ExitCode::FAILURE;
    };
    let token = match token {
        Some(token) => token.clone(),
        None => match token_de_supervisor_local(pasta) {
            Ok(token) => token,
            Err(erro) => {
                eprintln!("Erro: {erro}");
                return ExitCode::from(2);
            }
        },
    };
    let opcoes = app_core::painel::OpcoesPainel {
        servidor: servidor.clone(),
        token,
        nome: nome.clone(),
        json: *json,
        uma_vez: *uma_vez,
        tls: *tls,
        ca: ca.clone(),
    };
    app_core::painel::executar(opcoes).await
}

/// The first supervisor token of the credentials file in `pasta`, for a panel run on the
/// broker's own machine.
fn token_de_supervisor_local(pasta: &std::path::Path) -> Result<String, String> {
    let caminho = pasta.join(credenciais::SUPERVISORES.nome);
    let conteudo = std::fs::read_to_string(&caminho).map_err(|_| {
        format!(
            "informe --token (ou FILA_TOKEN_SUPERVISOR): não há {} aqui",
            caminho.display()
        )
    })?;
    conteudo
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .ok_or_else(|| format!("{} não tem nenhum token", caminho.display()))
}

/// The times of `--desde` (its day's start) and `--ate` (the next day's start), each day's start
/// as `inicio_do_dia` reads an AAAA-MM-DD date.
fn periodo(
    desde: &Option<String>,
    ate: &Option<String>,
    inicio_do_dia: fn(&str) -> Result<i64, String>,
) -> Result<(Option<i64>, Option<i64>), String> {
    let dia = |data: &Option<String>, dias_depois: i64| {
        data.as_deref()
            .map(|data| inicio_do_dia(data).map(|ms| ms + dias_depois * MS_POR_DIA))
            .transpose()
    };
    Ok((dia(desde, 0)?, dia(ate, 1)?))
}

/// Answers `broker relatorio` from the history: the figures of the days asked, against `meta`.
async fn relatar(
    historico: &Banco,
    (desde, ate, departamento): (&Option<String>, &Option<String>, &Option<String>),
    formato: Formato,
    meta: Duration,
) -> ExitCode {
    let (desde, ate) = match periodo(desde, ate, servico::dia_utc) {
        Ok(periodo) => periodo,
        Err(erro) => {
            eprintln!("Erro: {erro}");
            return ExitCode::from(2);
        }
    };
    if meta.is_zero() {
        eprintln!("Erro: --meta precisa ser maior que zero");
        return ExitCode::from(2);
    }
    let filtro = armazenamento::FiltroDesempenho {
        desde,
        ate,
        departamento: departamento
            .as_deref()
            .map(|d| proto::validacao::normalizar_departamento(d).unwrap_or_else(|_| d.to_owned())),
        meta_ms: i64::try_from(meta.as_millis()).unwrap_or(i64::MAX),
    };
    match historico.desempenho(&filtro).await {
        Ok(linhas) => {
            print!("{}", servico::imprimir(&linhas, formato, meta));
            ExitCode::SUCCESS
        }
        Err(erro) => {
            eprintln!("Não foi possível ler o histórico: {erro}");
            ExitCode::FAILURE
        }
    }
}

/// Answers `broker conversas`, `broker conversa ID` and `broker relatorio` from the history at
/// `url`.
async fn consultar(url: &str, consulta: &Consulta, prazo_lideranca: Duration) -> ExitCode {
    if !armazenamento::existe(url) {
        eprintln!(
            "Não há histórico em {} (confira --dados ou --banco).",
            armazenamento::descrever(url)
        );
        return ExitCode::FAILURE;
    }
    let historico = match Banco::abrir(url).await {
        Ok(historico) => historico,
        Err(erro) => {
            eprintln!("Não foi possível abrir o histórico ({url}): {erro}");
            return ExitCode::FAILURE;
        }
    };
    match consulta {
        Consulta::Relatorio {
            desde,
            ate,
            departamento,
            meta,
            formato,
        } => relatar(&historico, (desde, ate, departamento), *formato, *meta).await,
        // The panel reads no history: main runs it before opening one.
        Consulta::Painel { .. } => ExitCode::SUCCESS,
        Consulta::Cluster => mostrar_clusters(&historico, prazo_lideranca).await,
        Consulta::Conversas {
            desde,
            ate,
            departamento,
            atendente,
            cliente,
            nota,
            limite,
        } => {
            let (desde, ate) = match periodo(desde, ate, relatorio::inicio_do_dia) {
                Ok(periodo) => periodo,
                Err(erro) => {
                    eprintln!("Erro: {erro}");
                    return ExitCode::from(2);
                }
            };
            let filtro = armazenamento::Filtro {
                desde,
                ate,
                departamento: departamento.clone(),
                atendente: atendente.clone(),
                cliente: cliente.clone(),
                nota: *nota,
                limite: i64::from(*limite),
                antes_de: None,
            };
            match historico.conversas(&filtro).await {
                Ok(conversas) if conversas.is_empty() => {
                    println!("Nenhuma conversa encontrada.");
                    ExitCode::SUCCESS
                }
                Ok(conversas) => {
                    for conversa in &conversas {
                        println!("{}", relatorio::linha(conversa));
                    }
                    ExitCode::SUCCESS
                }
                Err(erro) => {
                    eprintln!("Não foi possível ler o histórico: {erro}");
                    ExitCode::FAILURE
                }
            }
        }
        Consulta::Conversa { id } => match historico.transcricao(*id).await {
            Ok(Some((conversa, mensagens))) => {
                let transferencias = match historico.transferencias(*id).await {
                    Ok(transferencias) => transferencias,
                    Err(erro) => {
                        eprintln!("Não foi possível ler as transferências da conversa: {erro}");
                        Vec::new()
                    }
                };
                print!(
                    "{}",
                    relatorio::transcricao(&conversa, &mensagens, &transferencias)
                );
                ExitCode::SUCCESS
            }
            Ok(None) => {
                eprintln!("A conversa #{id} não está no histórico.");
                ExitCode::FAILURE
            }
            Err(erro) => {
                eprintln!("Não foi possível ler o histórico: {erro}");
                ExitCode::FAILURE
            }
        },
    }
}

/// Raises the open-file limit and warns when it cannot hold `conexoes_maximas` connections.
fn avisar_limite_de_arquivos(conexoes_maximas: usize) {
    match arquivos::elevar_limite() {
        Ok(limite) if limite.conexoes() < conexoes_maximas as u64 => eprintln!(
            "Aviso: o limite de arquivos abertos ({}) comporta só {} conexões, menos que \
             --conexoes-maximas ({conexoes_maximas}). Aumente-o (ulimit -Hn, LimitNOFILE= no \
             systemd) ou reduza --conexoes-maximas.",
            limite.atual,
            limite.conexoes(),
        ),
        Ok(_) => {}
        Err(erro) => eprintln!("Aviso: não foi possível ler o limite de arquivos abertos: {erro}"),
    }
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn sinal_de_encerramento() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut termino =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            resultado = tokio::signal::ctrl_c() => resultado,
            _ = termino.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
